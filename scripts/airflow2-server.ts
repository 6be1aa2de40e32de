import { resolve } from 'node:path';
import { freePort, type AirflowServer } from './airflow-server.js';
import { spawnServer, waitUntilHealthy } from './server-process.js';

export interface StartAirflow2Options {
  /** Defaults to a free port chosen by the OS. */
  port?: number;
  /** Extra environment for scripts/airflow2/start.sh, e.g. `AIRFLOW__TOKEN_BROKER__AUDIENCE`; `AIRFLOW__*` wins. */
  env?: Record<string, string>;
  /**
   * The token broker's Airflow 2 auth backend (`airflow_token_broker.airflow2_auth`, loaded from companions/src)
   * first in `[api] auth_backends`, before basic_auth and session.
   */
  companion?: boolean;
  /** Also run `airflow scheduler` (SequentialExecutor) in the same process group, so triggered runs run. */
  scheduler?: boolean;
  /** How long to wait for `/api/v1/health` to answer 200 (the first run also builds the venv). */
  timeoutMs?: number;
}

// Relative to the working directory: npm scripts and jest run from the project root.
const startScript = resolve('scripts/airflow2/start.sh');

/**
 * Starts a real Airflow 2.11 webserver (scripts/airflow2/start.sh: FAB users admin/admin-pass, proxy/proxy-pass,
 * viewer/viewer-pass; the four test DAGs) in its own process group and waits until `/api/v1/health` answers.
 * `stop()` signals the whole group (gunicorn's master, its workers and the scheduler).
 */
export async function startAirflow2(opts: StartAirflow2Options = {}): Promise<AirflowServer> {
  const port = opts.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const server = spawnServer(startScript, [], {
    ...process.env,
    ...opts.env,
    AIRFLOW_PORT: String(port),
    ...(opts.companion && { AIRFLOW_COMPANION: '1' }),
    ...(opts.scheduler && { AIRFLOW_WITH_SCHEDULER: '1' }),
  });
  await waitUntilHealthy(server, `${url}/api/v1/health`, opts.timeoutMs ?? 240_000, `Airflow 2 on ${url}`);
  return { url, logTail: () => server.logTail(), stop: () => server.stop() };
}
