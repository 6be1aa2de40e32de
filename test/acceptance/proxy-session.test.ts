import type { DevDirectory } from '../../scripts/dev-directory.js';
import { startAirflow, type AirflowServer } from '../helpers/airflow-server.js';
import { serviceAccountUpstream, startDirectory, type Broker } from '../helpers/broker-harness.js';
import { startLoginBroker } from '../helpers/login-broker.js';
import { loginAs, PersonBrowser } from '../helpers/person-browser.js';

/** People calling a real Airflow 3 through the proxy with their session (the console's way), not with a token. */

const timeout = 240_000;
let airflow: AirflowServer;
let directory: DevDirectory;
let broker: Broker;

beforeAll(async () => {
  airflow = await startAirflow();
  directory = await startDirectory();
  broker = await startLoginBroker(directory, { configure: (c) => void (c.upstreams.prod = serviceAccountUpstream(airflow.url)) });
}, timeout);
afterAll(async () => {
  await broker?.close();
  await directory?.close();
  await airflow?.stop();
}, timeout);

async function person(username: string): Promise<{ browser: PersonBrowser; csrf: string }> {
  const browser = new PersonBrowser();
  await loginAs(browser, broker.url, username, `${username}-password`);
  const session = (await (await browser.request(`${broker.url}/session`)).json()) as { csrf_token: string };
  return { browser, csrf: session.csrf_token };
}

async function call(browser: PersonBrowser, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await browser.request(`${broker.url}/airflow/prod/api/v2${path}`, {
    method,
    headers: { origin: broker.url, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

describe('the proxy with a person\'s session on a real Airflow', () => {
  it('alice sees only the etl_* DAGs, as the policy filters them for demo-etl', async () => {
    const { browser } = await person('alice');
    const res = await call(browser, 'GET', '/dags');
    expect(res.status).toBe(200);
    expect(((res.body.dags as Array<{ dag_id: string }>) ?? []).map((d) => d.dag_id).sort()).toEqual(['etl_daily', 'etl_hourly']);
    expect(broker.audit.decisions.at(-1)).toMatchObject({ sub: 'alice', decision: 'allow', filtered: true });
  }, timeout);

  it('alice triggers etl_daily with the CSRF token; without it nothing reaches Airflow', async () => {
    const { browser, csrf } = await person('alice');
    const refused = await call(browser, 'POST', '/dags/etl_daily/dagRuns', { logical_date: null, dag_run_id: 'session-without-csrf' });
    expect(refused.status).toBe(403);
    expect(refused.body.reason).toBe('csrf-token-missing-or-wrong');
    const res = await call(browser, 'POST', '/dags/etl_daily/dagRuns', { logical_date: null, dag_run_id: 'session-run-1', conf: { target: 'primary' } }, { 'x-csrf-token': csrf });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ dag_run_id: 'session-run-1', dag_id: 'etl_daily' });
    const run = await call(browser, 'GET', '/dags/etl_daily/dagRuns/session-run-1');
    expect(run.status).toBe(200);
    expect((await call(browser, 'GET', '/dags/etl_daily/dagRuns/session-without-csrf')).status).toBe(404);
  }, timeout);

  it('alice is refused a DAG outside her role with the reason, as an API client is', async () => {
    const { browser, csrf } = await person('alice');
    const res = await call(browser, 'POST', '/dags/payroll_monthly/dagRuns', { logical_date: null }, { 'x-csrf-token': csrf });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ error: 'insufficient_scope', reason: 'no-matching-grant', operation: 'trigger_dag_run' });
  }, timeout);

  it('bob, with no role, is refused every call with no-role-on-deployment', async () => {
    const { browser } = await person('bob');
    const res = await call(browser, 'GET', '/dags');
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ error: 'insufficient_scope', reason: 'no-role-on-deployment' });
  }, timeout);
});
