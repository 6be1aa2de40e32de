import type { MeasuredRun } from './report.js';

/**
 * The arithmetic of the proxy comparison: medians over interleaved rounds per target, the ratios of ours to
 * each anchor, and the targets. Pure functions, so the report's figures are unit-tested.
 */

export interface TargetSummary {
  id: string;
  title: string;
  rounds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  p99RangeMs: [number, number];
  errors: number;
}

export interface Verdict {
  what: string;
  threshold: number;
  measured: number | undefined;
  met: boolean;
}

/** The median; of an even count, the mean of the two middle values. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** One summary per target, in the order the targets first appear in `runs`. */
export function summarizeRounds(runs: readonly MeasuredRun[]): TargetSummary[] {
  const byId = new Map<string, MeasuredRun[]>();
  for (const r of runs) byId.set(r.scenario, [...(byId.get(r.scenario) ?? []), r]);
  return [...byId.values()].map((group) => {
    const p99s = group.map((r) => r.result.latencyMs.p99);
    return {
      id: group[0]!.scenario,
      title: group[0]!.title,
      rounds: group.length,
      requestsPerSecond: median(group.map((r) => r.result.requestsPerSecond)),
      p50Ms: median(group.map((r) => r.result.latencyMs.p50)),
      p99Ms: median(p99s),
      p99RangeMs: [Math.min(...p99s), Math.max(...p99s)],
      errors: group.reduce((sum, r) => sum + r.result.errorCount, 0),
    };
  });
}

export interface ComparisonRatios {
  /** req/s of ours over req/s of each other target (median over rounds). */
  throughput: Record<string, number>;
  /** p99 of ours over p99 of each other target (median over rounds). */
  p99: Record<string, number>;
}

export function comparisonRatios(summaries: readonly TargetSummary[], oursId: string): ComparisonRatios | undefined {
  const ours = summaries.find((s) => s.id === oursId);
  if (!ours) return undefined;
  const others = summaries.filter((s) => s.id !== oursId);
  return {
    throughput: Object.fromEntries(others.map((s) => [s.id, ours.requestsPerSecond / s.requestsPerSecond])),
    p99: Object.fromEntries(others.map((s) => [s.id, ours.p99Ms / s.p99Ms])),
  };
}

/** A target "at least" (`>=`) or "at most" (`<=`) a threshold; not met when it was not measured. */
export function verdict(what: string, measured: number | undefined, op: '>=' | '<=', threshold: number): Verdict {
  const met = measured !== undefined && Number.isFinite(measured) && (op === '>=' ? measured >= threshold : measured <= threshold);
  return { what: `${what} ${op} ${threshold}`, threshold, measured, met };
}

const fmt = (n: number, digits = 2) => n.toFixed(digits);

/** The table of the issue: target | req/s | p50 | p99 (median, and its range over the rounds). */
export function formatComparison(summaries: readonly TargetSummary[]): string {
  const rows = summaries.map((s) => [
    s.title,
    Math.round(s.requestsPerSecond).toLocaleString('en-US'),
    `${fmt(s.p50Ms)} ms`,
    `${fmt(s.p99Ms)} ms (${fmt(s.p99RangeMs[0], 1)}-${fmt(s.p99RangeMs[1], 1)})`,
    s.errors === 0 ? '0' : `${s.errors} !`,
  ]);
  const header = ['target', 'req/s', 'p50', 'p99 (range over rounds)', 'errors'];
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function formatVerdict(v: Verdict): string {
  return `${v.what}: ${v.measured === undefined ? 'not measured' : fmt(v.measured, 3)} -- ${v.met ? 'MET' : 'NOT MET'}`;
}
