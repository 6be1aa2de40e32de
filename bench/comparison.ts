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

/** How far a set of figures moves: the highest over the lowest (1 when steady, Infinity when one is 0). */
export function swing(values: readonly number[]): number {
  if (values.length === 0) throw new Error('swing of nothing');
  const low = Math.min(...values);
  const high = Math.max(...values);
  return low > 0 ? high / low : Infinity;
}

/**
 * Why a half-load measurement must not be reported, or undefined when it may. The stand-in direct is the
 * machine's gauge: when its req/s moves more than `maxSwing` times between the measurement's own direct runs,
 * another process took the cores meanwhile, and an added p99 from those runs says more about the host than
 * about the proxy.
 */
export function halfLoadRefusal(direct: { label: string; requestsPerSecond: readonly number[] }[], maxSwing: number): string | undefined {
  const moved = direct.filter((d) => d.requestsPerSecond.length > 1 && swing(d.requestsPerSecond) > maxSwing);
  if (moved.length === 0) return undefined;
  return moved
    .map((d) => `${d.label} moved ${swing(d.requestsPerSecond).toFixed(1)}x (${d.requestsPerSecond.map((r) => Math.round(r)).join(', ')} req/s), more than ${maxSwing}x`)
    .join('; ');
}

/** Of the probes (connections, req/s), the connection count whose req/s is nearest half the peak. */
export function halfLoadConnections(probes: readonly { connections: number; requestsPerSecond: number }[], peak: number): number {
  if (probes.length === 0) throw new Error('no half-load probe');
  return probes.reduce((a, b) => (Math.abs(b.requestsPerSecond - peak / 2) < Math.abs(a.requestsPerSecond - peak / 2) ? b : a)).connections;
}

/**
 * RSS growth over the second half of a run: the highest RSS sampled at or after half the duration, over the RSS
 * of the first sample there (the middle). Undefined without a sample in the second half. A run that levels off
 * gives about 0 however much it grew while its caches filled in the first half.
 */
export function secondHalfGrowth(samples: readonly { atS: number; rssBytes: number | undefined }[], durationS: number): number | undefined {
  const secondHalf = samples.filter((m): m is { atS: number; rssBytes: number } => m.rssBytes !== undefined && m.atS >= durationS / 2);
  const middle = secondHalf[0];
  if (!middle) return undefined;
  return (Math.max(...secondHalf.map((m) => m.rssBytes)) - middle.rssBytes) / middle.rssBytes;
}

/**
 * RSS growth over the second half, phase-free: the highest RSS of the last quarter over the highest RSS of the
 * third quarter. V8 lets the old generation fill to a multiple of the live heap before each mark-compact and may
 * hand the pages back after it, so RSS is a sawtooth (380-560 MB with the token cache full); one sample (the
 * middle) can fall on a trough or a peak, a quarter of a long run holds several teeth. A growing envelope (a
 * leak, a heap that keeps raising its limit) shows here; the teeth do not. Undefined without samples in both.
 */
export function secondHalfPeakGrowth(samples: readonly { atS: number; rssBytes: number | undefined }[], durationS: number): number | undefined {
  const peak = (from: number, to: number) => {
    const inRange = samples.filter((m) => m.rssBytes !== undefined && m.atS >= from * durationS && (to === 1 ? true : m.atS < to * durationS));
    return inRange.length ? Math.max(...inRange.map((m) => m.rssBytes!)) : undefined;
  };
  const third = peak(0.5, 0.75);
  const last = peak(0.75, 1);
  return third === undefined || last === undefined ? undefined : (last - third) / third;
}

/**
 * How flat RSS stayed over the second half: its highest sample there over its lowest, minus 1. Phase-free and
 * strict: a sawtooth of GC counts in full, however it falls against the middle. The bench's verdict.
 */
export function secondHalfSpread(samples: readonly { atS: number; rssBytes: number | undefined }[], durationS: number): number | undefined {
  const rss = samples.filter((m) => m.rssBytes !== undefined && m.atS >= durationS / 2).map((m) => m.rssBytes!);
  return rss.length ? Math.max(...rss) / Math.min(...rss) - 1 : undefined;
}
