import { cpus } from 'node:os';
import { countServed, type BenchContext } from './bench-context.js';
import { cpuBetween, machineTicks, reapedChildrenSeconds, snapshotProcess, type CpuShare } from './cpu-usage.js';
import { wrkLabel, type MeasuredRun } from './report.js';
import type { Scenario } from './scenarios.js';
import { settings, type Shape } from './settings.js';
import { runWrk, writeWrkScript, type WrkResult, type WrkRun } from './wrk.js';

/** Measurement: wrk runs with the CPU of every bench process, one scenario after another or in interleaved rounds. */

type Target = Pick<Scenario, 'id' | 'title' | 'url' | 'through'>;

/** wrk once, counting its requests for the Node processes on the path (for the per-request CPU profile). */
export async function countedWrk(ctx: BenchContext, through: readonly string[], run: WrkRun): Promise<WrkResult> {
  const result = await runWrk(run);
  countServed(ctx, through, result.requests);
  return result;
}

/** Every scenario at every shape, one after the other. */
export async function measure(ctx: BenchContext, scenarios: Scenario[], shapesOf: (s: Scenario) => Shape[] = () => settings.connections): Promise<MeasuredRun[]> {
  const runs: MeasuredRun[] = [];
  for (const s of scenarios) {
    const script = writeWrkScript(ctx.tmp, s.id, s.request);
    for (const shape of shapesOf(s)) runs.push(await measureRun(ctx, s, script, shape));
  }
  return runs;
}

/**
 * `rounds` rounds of every target in order (A, B, C, A, B, C, ...) at one shape, so that the machine's drift
 * spreads over all targets instead of favouring the one measured first. One warm-up per target before round 1.
 */
export async function measureRounds(ctx: BenchContext, targets: Scenario[], shape: Shape, rounds: number, durationS: number): Promise<MeasuredRun[]> {
  const scripts = new Map(targets.map((t) => [t.id, writeWrkScript(ctx.tmp, t.id, t.request)]));
  const runs: MeasuredRun[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const t of targets) {
      process.stderr.write(`round ${round}/${rounds}: `);
      runs.push(await measureRun(ctx, t, scripts.get(t.id)!, shape, { durationS, warmupS: round === 1 ? settings.warmupS : 0 }));
    }
  }
  return runs;
}

/** One wrk run (after a warm-up whose figures are discarded) with the CPU every bench process used during it. */
export async function measureRun(
  ctx: BenchContext,
  s: Target,
  script: string,
  shape: Shape,
  options: { durationS?: number; warmupS?: number; during?: (run: Promise<WrkResult>) => Promise<void> } = {},
): Promise<MeasuredRun> {
  const durationS = options.durationS ?? settings.durationS;
  const warmupS = options.warmupS ?? settings.warmupS;
  const run = { url: s.url, script, threads: shape.threads, connections: shape.connections, timeoutS: settings.timeoutS };
  process.stderr.write(`${s.title} ${wrkLabel(shape)}: ${warmupS > 0 ? `warm-up ${warmupS}s, ` : ''}measure ${durationS}s\n`);
  if (warmupS > 0) await countedWrk(ctx, s.through, { ...run, durationS: warmupS });
  const snapshot = () => ({
    processes: new Map([...ctx.tracked].map(([name, p]) => [name, snapshotProcess(p.pid, p.tree)])),
    machine: machineTicks(),
    wrk: reapedChildrenSeconds(),
  });
  const before = snapshot();
  const running = countedWrk(ctx, s.through, { ...run, durationS });
  await options.during?.(running);
  const result = await running;
  const after = snapshot();
  const processes: Record<string, CpuShare> = {};
  for (const [name, p] of ctx.tracked) {
    const b = before.processes.get(name);
    const a = after.processes.get(name);
    if (a && b) processes[name] = cpuBetween(p.pid, b, a);
  }
  if (result.errorCount > 0) process.stderr.write(`  ! ${result.errorCount} errors: ${JSON.stringify(result.errors)}\n`);
  return {
    scenario: s.id,
    title: s.title,
    threads: shape.threads,
    connections: shape.connections,
    result,
    cores: {
      processes,
      wrk: (after.wrk - before.wrk) / result.durationS,
      machineBusy: (after.machine.busy - before.machine.busy) / result.durationS,
      machineCores: cpus().length,
    },
  };
}
