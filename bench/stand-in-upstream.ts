import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { SignJWT } from 'jose';
import { serveOnLoopback } from './serve-on-loopback.js';

/**
 * Bench only: a fixed-body stand-in for Airflow's API server, fast enough that the proxy, not the upstream,
 * is what a bench measures. It serves one precomputed DAG at `GET /api/v2/dags/etl_daily` and a service-account
 * login at `POST /auth/token`; the DAG answers only the bearer token that login handed out, so a request that
 * still carried the caller's credentials would fail. Prints `{"url": ...}` once listening; exits on SIGTERM,
 * SIGINT or when its parent closes stdin.
 */

const DAG_PATH = '/api/v2/dags/etl_daily';

// Shaped like Airflow 3.3's DAGResponse (about 1 KB).
const dag = {
  dag_id: 'etl_daily',
  dag_display_name: 'etl_daily',
  is_paused: false,
  is_stale: false,
  last_parsed_time: '2025-06-02T07:41:12.345678Z',
  last_parse_duration: 0.412,
  last_expired: null,
  bundle_name: 'dags-folder',
  bundle_version: null,
  relative_fileloc: 'etl_daily.py',
  fileloc: '/opt/airflow/dags/etl_daily.py',
  description: 'Loads the daily extracts from the operational databases into the warehouse staging schema.',
  timetable_summary: '0 2 * * *',
  timetable_description: 'At 02:00',
  tags: [
    { name: 'etl', dag_id: 'etl_daily' },
    { name: 'token-broker-test', dag_id: 'etl_daily' },
  ],
  max_active_tasks: 16,
  max_active_runs: 1,
  max_consecutive_failed_dag_runs: 0,
  has_task_concurrency_limits: false,
  has_import_errors: false,
  next_dagrun_logical_date: '2025-06-03T02:00:00Z',
  next_dagrun_data_interval_start: '2025-06-02T02:00:00Z',
  next_dagrun_data_interval_end: '2025-06-03T02:00:00Z',
  next_dagrun_run_after: '2025-06-03T02:00:00Z',
  owners: ['data-platform'],
  file_token: 'Ii9vcHQvYWlyZmxvdy9kYWdzL2V0bF9kYWlseS5weSI.X3jN0vN7ALfpBeu6Gjzbq7Ho6Pc',
};
const DAG_BODY = Buffer.from(JSON.stringify(dag));
const DAG_HEADERS = { 'content-type': 'application/json', 'content-length': String(DAG_BODY.length) };

const accessToken = await new SignJWT({ sub: 'proxy', role: 'op' })
  .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
  .setIssuedAt()
  .setExpirationTime('30d')
  .sign(new TextEncoder().encode('stand-in-upstream-signing-key-for-benchmarks-only'));
const ACCEPTED_AUTHORIZATION = `Bearer ${accessToken}`;
const LOGIN_BODY = Buffer.from(JSON.stringify({ access_token: accessToken }));
/**
 * BENCH_STAND_IN_OPEN=1: answer the DAG to any bearer token. Only for an anchor that cannot swap the caller's
 * credentials for the stand-in's (oauth2-proxy forwards the caller's token); it then runs as a second instance.
 */
const OPEN = process.env.BENCH_STAND_IN_OPEN === '1';
const accepted = (authorization: string | undefined) => (OPEN ? authorization?.startsWith('Bearer ') === true : authorization === ACCEPTED_AUTHORIZATION);

function answer(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  if (req.method === 'GET' && req.url === DAG_PATH) {
    if (!accepted(req.headers.authorization)) return answer(res, 401, '{"detail":"Not authenticated"}');
    res.writeHead(200, DAG_HEADERS);
    res.end(DAG_BODY);
    return;
  }
  if (req.method === 'POST' && req.url === '/auth/token') {
    // The credentials are not checked: this stand-in has one user and is never reachable off loopback.
    req.resume().once('end', () => {
      res.writeHead(201, { 'content-type': 'application/json', 'content-length': String(LOGIN_BODY.length) });
      res.end(LOGIN_BODY);
    });
    return;
  }
  answer(res, 404, '{"detail":"Not Found"}');
}

const server = createServer({ keepAliveTimeout: 30_000 }, handle);
serveOnLoopback(server, Number(process.env.BENCH_STAND_IN_PORT ?? 0));
