import { setTimeout as sleep } from 'node:timers/promises';
import { formatDuration } from '../config/duration.js';
import type { DeploymentApi, TaskInstance } from './deployment-api.js';
import { CliExit, EXIT } from './exit-codes.js';

export interface FollowOptions {
  /** Give up (exit 4, the run goes on) after this long; default: wait as long as the run takes. */
  timeoutMs?: number;
  /** Between two reads of the run and its tasks. */
  intervalMs: number;
  /** How long the proxy or Airflow may stay unavailable (consecutive failed reads) before `wait` gives up (exit 5). */
  maxOutageMs: number;
  /** Where the state changes go (stderr). */
  log: (line: string) => void;
}

/** The end states of a DAG run in Airflow 3 (`DagRunState`): the others are `queued` and `running`. */
const finished = new Set(['success', 'failed']);

/** How a followed run ended: `success` or `failed`, and its task instances as last read. */
export interface RunEnd {
  state: string;
  tasks: TaskInstance[];
}

/**
 * Follows a run by polling it and its task instances through the proxy (plain GETs, safe to repeat), logging
 * the run's and every task's state when it changes, until the run ends.
 */
export async function followRun(api: DeploymentApi, dagId: string, runId: string, options: FollowOptions): Promise<RunEnd> {
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
  const seen = new Map<string, string>();
  let runState: string | undefined;
  let failingSince: number | undefined;
  for (;;) {
    try {
      const run = await api.getRun(dagId, runId);
      if (run.state !== runState) options.log(`run ${runId}: ${run.state}`);
      runState = run.state;
      const tasks = await api.taskInstances(dagId, runId);
      for (const ti of tasks) {
        const key = taskName(ti);
        const state = `${ti.state ?? 'none'}${ti.try_number > 1 ? ` (try ${ti.try_number})` : ''}`;
        if (seen.get(key) !== state) options.log(`  ${key}: ${state}`);
        seen.set(key, state);
      }
      failingSince = undefined;
      if (finished.has(run.state)) return { state: run.state, tasks };
    } catch (err) {
      if (!(err instanceof CliExit) || err.code !== EXIT.unavailable) throw err;
      failingSince ??= Date.now();
      if (Date.now() - failingSince >= options.maxOutageMs) throw err;
      options.log(`(retrying) ${err.message}`);
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new CliExit(
        EXIT.timeout,
        `run ${runId} of ${dagId} is still ${runState ?? 'unknown'} after ${formatDuration(options.timeoutMs!)}; it goes on: ` +
          `\`airflow-token-broker wait ${dagId} ${runId}\` follows it again`,
      );
    }
    await sleep(Math.min(options.intervalMs, left));
  }
}

function taskName(ti: TaskInstance): string {
  return ti.map_index >= 0 ? `${ti.task_id}[${ti.map_index}]` : ti.task_id;
}
