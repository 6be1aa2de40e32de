import { once } from 'node:events';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { spawnServer, waitUntilHealthy } from './server-process.js';

/** A real Airflow API server started by `scripts/airflow/start.sh` (see scripts/airflow/README.md). */
export interface AirflowServer {
  /** Base URL without the API root, e.g. `http://127.0.0.1:28095`. */
  url: string;
  /** The last lines Airflow wrote (API server and, with `scheduler`, the scheduler), for failure messages. */
  logTail(): string;
  stop(): Promise<void>;
}

export interface StartAirflowOptions {
  /** Defaults to a free port chosen by the OS. */
  port?: number;
  /** Extra environment for start.sh, e.g. `AIRFLOW__API_AUTH__JWT_AUDIENCE`. */
  env?: Record<string, string>;
  /** How long to wait for `/api/v2/monitor/health` to answer 200 (the first run also builds the venv). */
  timeoutMs?: number;
  /**
   * Also run `airflow scheduler` (LocalExecutor) in the same process group, so triggered runs really run their
   * tasks; its workers reach the Task Execution API at this server's `/execution/` unless
   * `env.AIRFLOW__CORE__EXECUTION_API_SERVER_URL` points elsewhere.
   */
  scheduler?: boolean;
  /**
   * Also run `airflow dag-processor`: Airflow 3's scheduler never parses DAG files, so only with it are DAG files
   * added or changed after start-up picked up (the DAGs `dags reserialize` serialized at start run without it).
   */
  dagProcessor?: boolean;
  /** `AIRFLOW_HOME`; default: a fresh one that start.sh creates. */
  home?: string;
  /**
   * Another API server on the database of `home`, which an earlier `startAirflow({ home })` migrated and filled:
   * no `db migrate`, no `dags reserialize`. Requires `home`.
   */
  sharesDatabase?: boolean;
}

// Relative to the working directory: npm scripts and jest run from the project root.
const startScript = resolve('scripts/airflow/start.sh');

/**
 * Starts Airflow in its own process group and waits until it is healthy. `stop()` sends SIGTERM to the whole
 * group (start.sh `exec`s the API server, which has worker children) and waits for it to exit.
 */
export async function startAirflow(opts: StartAirflowOptions = {}): Promise<AirflowServer> {
  const port = opts.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  if (opts.sharesDatabase && opts.home === undefined) throw new Error('startAirflow: sharesDatabase needs the home to share');
  const server = spawnServer(startScript, [], {
    ...process.env,
    ...opts.env,
    AIRFLOW_PORT: String(port),
    ...(opts.home !== undefined && { AIRFLOW_HOME: opts.home }),
    ...(opts.scheduler && { AIRFLOW_WITH_SCHEDULER: '1' }),
    ...(opts.dagProcessor && { AIRFLOW_WITH_DAG_PROCESSOR: '1' }),
    ...(opts.sharesDatabase && { AIRFLOW_SKIP_MIGRATE: '1' }),
  });
  await waitUntilHealthy(server, `${url}/api/v2/monitor/health`, opts.timeoutMs ?? 180_000, `Airflow on ${url}`);
  return { url, logTail: () => server.logTail(), stop: () => server.stop() };
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('could not pick a free port');
  return address.port;
}
