import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessGroup } from './processes.js';

/**
 * What every part of one bench run shares: its temp directory, the processes it started (all stopped however
 * it ends), the processes whose CPU each run reports, and how many requests went through each Node process
 * (to turn a CPU profile into time per request).
 */
export interface BenchContext {
  tmp: string;
  group: ProcessGroup;
  /** `tree`: count the process's children too. */
  tracked: Map<string, { pid: number; tree: boolean }>;
  served: Map<string, number>;
}

export function createBenchContext(): BenchContext {
  return { tmp: mkdtempSync(join(tmpdir(), 'atb-bench-')), group: new ProcessGroup(), tracked: new Map(), served: new Map() };
}

/** Counts `requests` for every process on a request's path (e.g. `['broker', 'stand-in']`). */
export function countServed(ctx: BenchContext, through: readonly string[], requests: number): void {
  for (const name of through) ctx.served.set(name, (ctx.served.get(name) ?? 0) + requests);
}
