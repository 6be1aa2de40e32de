import type { CpuShare } from './cpu-usage.js';
import type { WrkResult } from './wrk.js';

export interface MeasuredRun {
  scenario: string;
  title: string;
  threads: number;
  connections: number;
  result: WrkResult;
  /** CPU used during the measured window: seconds by bench process (broker, directory, stand-in...); wrk and machine in cores. */
  cores: { processes: Record<string, CpuShare>; wrk: number; machineBusy: number; machineCores: number };
}

export interface BestRun {
  scenario: string;
  title: string;
  wrk: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

/** The fastest run of each scenario, preferring runs without errors. */
export function bestRuns(runs: MeasuredRun[]): BestRun[] {
  const byScenario = new Map<string, MeasuredRun[]>();
  for (const r of runs) byScenario.set(r.scenario, [...(byScenario.get(r.scenario) ?? []), r]);
  return [...byScenario.values()].map((group) => {
    const clean = group.filter((r) => r.result.errorCount === 0);
    const best = (clean.length ? clean : group).reduce((a, b) => (b.result.requestsPerSecond > a.result.requestsPerSecond ? b : a));
    return {
      scenario: best.scenario,
      title: best.title,
      wrk: wrkLabel(best),
      requestsPerSecond: Math.round(best.result.requestsPerSecond),
      p50Ms: best.result.latencyMs.p50,
      p99Ms: best.result.latencyMs.p99,
      errors: best.result.errorCount,
    };
  });
}

export function wrkLabel(r: { threads: number; connections: number }): string {
  return `-t${r.threads} -c${r.connections}`;
}

function cores(share: CpuShare, seconds: number): string {
  const workers = share.total - share.main;
  return `${(share.main / seconds).toFixed(2)}+${(workers / seconds).toFixed(2)}`;
}

function table(header: string[], rows: string[][], rightAligned: Set<number>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (rightAligned.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function formatRuns(runs: MeasuredRun[]): string {
  const names = [...new Set(runs.flatMap((r) => Object.keys(r.cores.processes)))];
  const rows = runs.map((r) => {
    const s = r.result.durationS;
    return [
      r.title,
      wrkLabel(r),
      Math.round(r.result.requestsPerSecond).toLocaleString('en-US'),
      r.result.latencyMs.p50.toFixed(2),
      r.result.latencyMs.p90.toFixed(2),
      r.result.latencyMs.p99.toFixed(2),
      r.result.errorCount === 0 ? '0' : `${r.result.errorCount} !`,
      ...names.map((n) => (r.cores.processes[n] ? cores(r.cores.processes[n], s) : '-')),
      r.cores.wrk.toFixed(2),
      otherLoad(r).toFixed(2),
      `${r.cores.machineBusy.toFixed(2)}/${r.cores.machineCores}`,
    ];
  });
  const header = ['scenario', 'wrk', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'errors', ...names.map((n) => `${n} cores`), 'wrk', 'others', 'machine busy'];
  return (
    table(header, rows, new Set(header.map((_, i) => i).filter((i) => i >= 2))) +
    '\n(CPU in cores, averaged over the run. Bench processes: main thread + other threads (libuv workers run the' +
    '\n WebCrypto jobs; for airflow: every process of its tree); others: busy CPU not used by the bench processes,' +
    '\n i.e. noise from the rest of the machine)'
  );
}

/** Cores used by processes outside the bench during a run. */
export function otherLoad(r: MeasuredRun): number {
  const s = r.result.durationS;
  const bench = Object.values(r.cores.processes).reduce((sum, share) => sum + share.total, 0);
  return Math.max(0, r.cores.machineBusy - r.cores.wrk - bench / s);
}

export function formatBest(best: BestRun[]): string {
  const rows = best.map((b) => [b.title, b.wrk, b.requestsPerSecond.toLocaleString('en-US'), b.p50Ms.toFixed(2), b.p99Ms.toFixed(2), String(b.errors)]);
  return table(['scenario (best run)', 'wrk', 'req/s', 'p50 ms', 'p99 ms', 'errors'], rows, new Set([2, 3, 4, 5]));
}
