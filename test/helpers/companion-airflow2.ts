import { startAirflow2 } from './airflow2-server.js';
import type { AirflowServer } from './airflow-server.js';
import { basic } from './broker-harness.js';

const timeoutMs = 300_000;

/**
 * A real Airflow 2.11 webserver with the companion's backend first in `[api] auth_backends` (then basic_auth,
 * session) and these `[token_broker]` options, e.g. `{ jwks_url, issuer, audience, token_type: 'at+jwt' }`.
 */
export function startCompanionAirflow2(
  tokenBroker: Record<string, string>,
  options: { port?: number; fabUsers?: string } = {},
): Promise<AirflowServer> {
  const env: Record<string, string> = Object.fromEntries(
    Object.entries(tokenBroker).map(([key, value]) => [`AIRFLOW__TOKEN_BROKER__${key.toUpperCase()}`, value]),
  );
  if (options.fabUsers) env.AIRFLOW_FAB_USERS = options.fabUsers;
  return startAirflow2({ ...(options.port && { port: options.port }), companion: true, timeoutMs, env });
}

export { timeoutMs as companionAirflow2Timeout };

/** A `/api/v1` call with an optional `Authorization` header; a body is sent as JSON. */
export function v1(airflow: AirflowServer, path: string, authorization?: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${airflow.url}/api/v1${path}`, {
    ...init,
    headers: { ...(authorization && { authorization }), ...(init.body ? { 'content-type': 'application/json' } : {}) },
  });
}

/** Who Airflow's event log names as the actor of each API trigger of `dagId` (read as the FAB admin). */
export async function triggerOwners(airflow: AirflowServer, dagId: string): Promise<string[]> {
  const res = await v1(airflow, `/eventLogs?dag_id=${dagId}&limit=100`, basic('admin', 'admin-pass'));
  if (res.status !== 200) throw new Error(`eventLogs answered ${res.status}`);
  const { event_logs } = (await res.json()) as { event_logs: { event: string; owner: string }[] };
  return event_logs.filter((e) => e.event.includes('post_dag_run')).map((e) => e.owner);
}
