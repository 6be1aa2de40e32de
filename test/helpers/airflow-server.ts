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

/** Airflow's own login (`POST /auth/token`; SimpleAuthManager's dev users of start.sh). */
export function airflowLogin(airflow: AirflowServer, username: string, password: string): Promise<Response> {
  return fetch(`${airflow.url}/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
}

/** `PATCH /dags/{id}` `is_paused: false`; resolves with the HTTP status. */
export async function unpauseDag(airflow: AirflowServer, authorization: string, dagId: string): Promise<number> {
  const res = await fetch(`${airflow.url}/api/v2/dags/${encodeURIComponent(dagId)}`, {
    method: 'PATCH',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ is_paused: false }),
  });
  await res.body?.cancel();
  return res.status;
}

export interface EventLogEntry {
  event: string;
  owner: string;
  run_id: string | null;
}

export interface FinishedRun {
  run: Record<string, unknown>;
  /** XCom `return_value` of `taskId`: present only when the task really ran (an EmptyOperator pushes none). */
  returnValue: unknown;
  /** Airflow's event log (audit) of the DAG, newest first. */
  eventLogs: EventLogEntry[];
}

/** Waits for the run to succeed (see waitForRunSuccess), then reads what shows who did what and that the task ran. */
export async function finishedRun(airflow: AirflowServer, wait: RunWait & { taskId: string }): Promise<FinishedRun> {
  const run = await waitForRunSuccess(airflow, wait);
  const read = async (path: string) => {
    const res = await fetch(`${airflow.url}/api/v2${path}`, { headers: { authorization: wait.authorization } });
    if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as Record<string, unknown>;
  };
  const dag = encodeURIComponent(wait.dagId);
  const xcom = await read(`/dags/${dag}/dagRuns/${encodeURIComponent(wait.runId)}/taskInstances/${encodeURIComponent(wait.taskId)}/xcomEntries/return_value`);
  const logs = await read(`/eventLogs?dag_id=${dag}&limit=100&order_by=-id`);
  return { run, returnValue: xcom.value, eventLogs: logs.event_logs as EventLogEntry[] };
}
