// The real Airflow used by acceptance tests is started by the same code as `npm run demo`.
import type { AirflowServer } from '../../scripts/airflow-server.js';

export { freePort, startAirflow, type AirflowServer, type StartAirflowOptions } from '../../scripts/airflow-server.js';

export interface RunWait {
  dagId: string;
  runId: string;
  /** The `Authorization` header Airflow accepts for reading the run (an admin or viewer token). */
  authorization: string;
  timeoutMs?: number;
}

const finished = new Set(['success', 'failed']);

/**
 * Polls a DAG run (Airflow with a scheduler) until it has finished and resolves with the run when it succeeded.
 * Otherwise (failed, or still queued/running at the timeout) it throws with the last state seen and the tail of
 * Airflow's log, where a scheduler or worker error shows.
 */
export async function waitForRunSuccess(airflow: AirflowServer, wait: RunWait): Promise<Record<string, unknown>> {
  const timeoutMs = wait.timeoutMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  const url = `${airflow.url}/api/v2/dags/${encodeURIComponent(wait.dagId)}/dagRuns/${encodeURIComponent(wait.runId)}`;
  let last = 'never read';
  while (Date.now() < deadline) {
    const res = await fetch(url, { headers: { authorization: wait.authorization } });
    if (res.status !== 200) {
      last = `HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`;
    } else {
      const run = (await res.json()) as Record<string, unknown>;
      last = `state ${String(run.state)}`;
      if (run.state === 'success') return run;
      if (finished.has(String(run.state))) break;
    }
    await new Promise((r) => setTimeout(r, 1_000));
  }
  throw new Error(`run ${wait.dagId}/${wait.runId} did not succeed within ${timeoutMs} ms (${last}); Airflow's log:\n${airflow.logTail()}`);
}
