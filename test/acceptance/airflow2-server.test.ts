import { startAirflow2, type AirflowServer } from '../helpers/airflow2-server.js';
import { basic } from '../helpers/broker-harness.js';

/** The real Airflow 2.11 the /api/v1 tests run against (scripts/airflow2/start.sh): up, with its FAB users and DAGs. */

const timeout = 300_000;
let airflow: AirflowServer;

beforeAll(async () => {
  airflow = await startAirflow2();
}, timeout);

afterAll(async () => {
  await airflow?.stop();
}, timeout);

const api = (path: string, authorization?: string, init: RequestInit = {}) =>
  fetch(`${airflow.url}/api/v1${path}`, { ...init, headers: { ...(authorization && { authorization }), 'content-type': 'application/json' } });

it('is Airflow 2.11 with the four test DAGs of the Airflow 3 tests, listed to the admin over basic_auth', async () => {
  const version = await api('/version', basic('admin', 'admin-pass'));
  expect(version.status).toBe(200);
  expect((await version.json()) as { version: string }).toMatchObject({ version: expect.stringMatching(/^2\.11\./) });

  const res = await api('/dags?order_by=dag_id', basic('admin', 'admin-pass'));
  expect(res.status).toBe(200);
  const body = (await res.json()) as { dags: { dag_id: string }[]; total_entries: number };
  expect(body.dags.map((d) => d.dag_id)).toEqual(['etl_daily', 'etl_hourly', 'payroll_monthly', 'report_weekly']);
  expect(body.total_entries).toBe(4);
});

it('the health endpoint is public', async () => {
  const res = await api('/health');
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ metadatabase: { status: 'healthy' } });
});

it('the FAB Viewer can read a DAG but not trigger it; the Op can', async () => {
  const viewer = basic('viewer', 'viewer-pass');
  expect((await api('/dags/etl_daily', viewer)).status).toBe(200);
  const trigger = (authorization: string, dag_run_id: string) => api('/dags/etl_daily/dagRuns', authorization, { method: 'POST', body: JSON.stringify({ dag_run_id }) });
  expect((await trigger(viewer, 'smoke-viewer')).status).toBe(403);
  expect((await trigger(basic('proxy', 'proxy-pass'), 'smoke-op')).status).toBe(200);
  const runs = (await (await api('/dags/etl_daily/dagRuns', viewer)).json()) as { dag_runs: { dag_run_id: string }[] };
  expect(runs.dag_runs.map((r) => r.dag_run_id)).toEqual(['smoke-op']);
});

// Airflow 2.11 with the FAB provider (1.5.4) answers 403, not 401, to a failed or missing login: FAB defaults
// AUTH_ROLE_PUBLIC to "Public", and check_authentication (airflow/api_connexion/security.py) then lets the
// anonymous user through to the permission check, which the Public role fails.
it('a wrong password or no credentials get no data (403: the anonymous Public role)', async () => {
  for (const authorization of [basic('admin', 'wrong-pass'), basic('nobody', 'nobody-pass'), undefined]) {
    const res = await api('/dags', authorization);
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ title: 'Forbidden', type: expect.stringContaining('PermissionDenied') });
  }
});
