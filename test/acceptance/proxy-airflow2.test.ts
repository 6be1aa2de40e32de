import { execFile, execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { apiVersions } from '../../src/airflow/api-versions.js';
import { DEMO_ACCOUNTS, type DevDirectory } from '../../scripts/dev-directory.js';
import { proxyMatrix, type MatrixCase } from '../fixtures/proxy-matrix.js';
import { freePort, type AirflowServer } from '../helpers/airflow-server.js';
import { startAirflow2 } from '../helpers/airflow2-server.js';
import { basic, PROD_AUDIENCE, startBroker, startDirectory, STAGING_AUDIENCE, tokenRequest, type Broker } from '../helpers/broker-harness.js';

/**
 * The proxy in front of a real Airflow 2.11 webserver (`/api/v1`, scripts/airflow2/), in both credential modes at
 * once: the webserver's `[api] auth_backends` is the companion (`airflow_token_broker.airflow2_auth`), then FAB's
 * `basic_auth`, then `session`.
 * - `prod`: `service-account` as the FAB user `proxy` (Op), HTTP Basic;
 * - `staging`: `trusted-jwks` with `identity.auth_manager: fab`, per-caller tokens the companion verifies; it
 *   provisions callers' FAB users from `fab_roles` (allow-list Viewer, Op); `svc-admin` exists as a FAB Admin;
 * - `prod-admin`: `service-account` as the FAB `admin`, for user management through the proxy.
 * One policy (test/fixtures/policy/airflow2.yaml: the example policy plus `airflow-admin`) for all three.
 */

const timeout = 300_000;
const ADMIN_AUDIENCE = 'https://airflow2-admin.example';
const WRONG_PASSWORD_AUDIENCE = 'https://airflow2-wrong-password.example';
const WRONG_AUDIENCE_AUDIENCE = 'https://airflow2-wrong-audience.example';
const ACCOUNTS = [...DEMO_ACCOUNTS, { clientId: 'svc-admin', secret: 'svc-admin-secret', groups: ['airflow-admins'] }];
let airflow: AirflowServer;
let directory: DevDirectory;
let broker: Broker;
const tokens = new Map<string, string>();

const serviceAccount = (username: string, passwordVar: string) => ({ mode: 'service-account' as const, username, password: `\${${passwordVar}}` });

beforeAll(async () => {
  directory = await startDirectory({ accounts: ACCOUNTS });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  process.env.ATB_TEST_AIRFLOW2_PROXY_PASSWORD = 'proxy-pass';
  process.env.ATB_TEST_AIRFLOW2_ADMIN_PASSWORD = 'admin-pass';
  process.env.ATB_TEST_AIRFLOW2_WRONG_PASSWORD = 'not-the-proxy-pass';
  broker = await startBroker(directory, {
    policyFile: resolve('test/fixtures/policy/airflow2.yaml'),
    configure: (c) => {
      c.upstreams.prod = { audience: PROD_AUDIENCE, url, api: 'v1', credentials: serviceAccount('proxy', 'ATB_TEST_AIRFLOW2_PROXY_PASSWORD') };
      c.upstreams.staging = { audience: STAGING_AUDIENCE, url, api: 'v1', credentials: { mode: 'trusted-jwks', identity: { auth_manager: 'fab' } } };
      c.upstreams['prod-admin'] = { audience: ADMIN_AUDIENCE, url, api: 'v1', credentials: serviceAccount('admin', 'ATB_TEST_AIRFLOW2_ADMIN_PASSWORD') };
      // Misconfigured on purpose: a wrong password, and per-caller tokens for an audience the companion does not accept.
      c.upstreams['wrong-password'] = { audience: WRONG_PASSWORD_AUDIENCE, url, api: 'v1', credentials: { ...serviceAccount('proxy', 'ATB_TEST_AIRFLOW2_WRONG_PASSWORD'), login_backoff: '30s' } };
      c.upstreams['wrong-audience'] = {
        audience: WRONG_AUDIENCE_AUDIENCE,
        url,
        api: 'v1',
        credentials: { mode: 'trusted-jwks', jwt_audience: 'another-airflow', identity: { auth_manager: 'fab' } },
      };
    },
  });
  airflow = await startAirflow2({
    port,
    companion: true,
    timeoutMs: timeout,
    env: {
      AIRFLOW__TOKEN_BROKER__JWKS_URL: `${broker.url}/airflow/jwks.json`,
      AIRFLOW__TOKEN_BROKER__ISSUER: broker.url,
      AIRFLOW__TOKEN_BROKER__AUDIENCE: 'apache-airflow',
      AIRFLOW__TOKEN_BROKER__FAB_PROVISION: 'True',
      AIRFLOW__TOKEN_BROKER__FAB_PROVISION_ROLES: 'Viewer, Op',
      AIRFLOW_FAB_USERS: 'admin:Admin,proxy:Op,viewer:Viewer,svc-admin:Admin',
    },
  });
}, timeout);

afterAll(async () => {
  await broker?.close();
  await directory?.close();
  await airflow?.stop();
}, timeout);

const audienceOf: Record<string, string> = {
  prod: PROD_AUDIENCE,
  staging: STAGING_AUDIENCE,
  'prod-admin': ADMIN_AUDIENCE,
  'wrong-password': WRONG_PASSWORD_AUDIENCE,
  'wrong-audience': WRONG_AUDIENCE_AUDIENCE,
};

async function tokenFor(client: string, deployment: string): Promise<string> {
  const key = `${client} ${deployment}`;
  if (!tokens.has(key)) {
    const account = ACCOUNTS.find((a) => a.clientId === client)!;
    const res = await tokenRequest(broker, { grant_type: 'client_credentials', resource: audienceOf[deployment]! }, { authorization: basic(account.clientId, account.secret) });
    expect(res.status).toBe(200);
    tokens.set(key, res.body.access_token as string);
  }
  return tokens.get(key)!;
}

async function call(deployment: string, client: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${broker.url}/airflow/${deployment}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${await tokenFor(client, deployment)}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

/** Airflow 2 as its FAB admin sees it, bypassing the proxy (HTTP Basic). */
async function asAdmin(path: string) {
  const res = await fetch(`${airflow.url}/api/v1${path}`, { headers: { authorization: basic('admin', 'admin-pass') } });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

const dagIds = (body: Record<string, unknown> | undefined, key = 'dags') => ((body?.[key] as Array<{ dag_id: string }>) ?? []).map((d) => d.dag_id).sort();

/**
 * The Airflow 3 matrix on `/api/v1`: the same paths where v1 has them, and the same verdicts. Airflow 2 has no
 * backfills and no bulk `PATCH /variables`; its trigger body has no required `logical_date`.
 */
function onV1(c: MatrixCase): MatrixCase | undefined {
  if (c.path.startsWith('/backfills') || (c.method === 'PATCH' && c.path === '/variables')) return undefined;
  if (c.method === 'POST' && /^\/dags\/[^/~]+\/dagRuns$/.test(c.path)) return { ...c, body: {} };
  return c;
}
const v1Matrix = proxyMatrix.flatMap((c) => onV1(c) ?? []);

const modes = [
  { mode: 'service-account', deployment: 'prod', recordedAs: (_client: string) => 'proxy' },
  { mode: 'trusted-jwks', deployment: 'staging', recordedAs: (client: string) => client },
] as const;

describe.each(modes)('$mode on Airflow 2.11', ({ mode, deployment, recordedAs }) => {
  it('the matrix keeps every case of Airflow 3 that v1 has', () => {
    expect(v1Matrix.length).toBeGreaterThanOrEqual(proxyMatrix.length - 4);
  });

  it.each(v1Matrix.map((c) => [c.name, c] as const))('matrix: %s', async (_name, c) => {
    const res = await call(deployment, c.client, c.method, c.path, c.body);
    if (c.expect === 'deny') {
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ error: 'insufficient_scope', reason: c.reason });
    } else {
      expect(res.status).toBeLessThan(300);
    }
    const decision = broker.audit.decisions.at(-1)!;
    expect(decision).toMatchObject({ decision: c.expect === 'deny' ? 'deny' : 'allow', reason: c.reason, filtered: c.expect === 'filter', deployment, client_id: c.client });
    // A denied call is decided before Airflow is asked.
    expect(decision.upstream_status).toBe(c.expect === 'deny' ? undefined : res.status);
  });

  it('demo-etl sees only etl_* DAGs, with a matching total; Airflow has all four', async () => {
    const res = await call(deployment, 'demo-etl', 'GET', '/dags');
    expect(res.status).toBe(200);
    expect(dagIds(res.body)).toEqual(['etl_daily', 'etl_hourly']);
    expect(res.body!.total_entries).toBe(2);
    expect(dagIds(await asAdmin('/dags'))).toEqual(['etl_daily', 'etl_hourly', 'payroll_monthly', 'report_weekly']);
  });

  it('pagination (limit, offset, total_entries) stays correct over the filtered list', async () => {
    const pages = await Promise.all([0, 1, 2].map((offset) => call(deployment, 'demo-etl', 'GET', `/dags?limit=1&offset=${offset}&order_by=dag_id`)));
    expect(pages.map((p) => dagIds(p.body))).toEqual([['etl_daily'], ['etl_hourly'], []]);
    expect(pages.map((p) => p.body!.total_entries)).toEqual([2, 2, 2]);
  });

  it('demo-etl triggers etl_daily through the proxy: the run exists, and Airflow\'s event log names who Airflow saw', async () => {
    const owner = recordedAs('demo-etl');
    const logged = async () => (await asAdmin(`/eventLogs?dag_id=etl_daily&event=api.post_dag_run&owner=${encodeURIComponent(owner)}&limit=1`)).total_entries as number;
    const before = await logged();
    const runId = `via-proxy-${mode}`;
    const res = await call(deployment, 'demo-etl', 'POST', '/dags/etl_daily/dagRuns', { dag_run_id: runId });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ dag_id: 'etl_daily', dag_run_id: runId, state: 'queued' });
    const runs = (await asAdmin('/dags/etl_daily/dagRuns')).dag_runs as Array<{ dag_run_id: string }>;
    expect(runs.map((r) => r.dag_run_id)).toContain(runId);
    expect(await logged()).toBe(before + 1);
  });

  it('payroll_monthly is refused before Airflow is asked: no run appears', async () => {
    const runId = `must-not-exist-${mode}`;
    const res = await call(deployment, 'demo-etl', 'POST', '/dags/payroll_monthly/dagRuns', { dag_run_id: runId });
    expect(res.status).toBe(403);
    expect(broker.audit.decisions.at(-1)).toMatchObject({ decision: 'deny', reason: 'no-matching-grant', upstream_status: undefined });
    const runs = (await asAdmin('/dags/payroll_monthly/dagRuns')).dag_runs as Array<{ dag_run_id: string }>;
    expect(runs.map((r) => r.dag_run_id)).not.toContain(runId);
  });

  it('batch lists are rewritten to the permitted DAGs: dag_ids empty, null or absent', async () => {
    await call(deployment, 'demo-etl', 'POST', '/dags/etl_hourly/dagRuns', {});
    for (const body of [{ dag_ids: [] }, { dag_ids: null }, {}]) {
      const res = await call(deployment, 'demo-etl', 'POST', '/dags/~/dagRuns/list', body);
      expect(res.status).toBe(200);
      const ids = dagIds(res.body, 'dag_runs');
      expect(ids.length).toBeGreaterThan(0);
      expect(ids.every((id) => id.startsWith('etl_'))).toBe(true);
      expect(res.body!.total_entries).toBe(ids.length);
    }
    const reporting = await call(deployment, 'svc-reporting', 'POST', '/dags/~/dagRuns/list', { dag_ids: [] });
    expect(reporting.body).toMatchObject({ total_entries: 0 });
    const tis = await call(deployment, 'demo-etl', 'POST', '/dags/~/dagRuns/~/taskInstances/list', {});
    expect(tis.status).toBe(200);
    expect(dagIds(tis.body, 'task_instances').every((id) => id.startsWith('etl_'))).toBe(true);
  });

  it('user management is refused to roles that do not grant it, before Airflow is asked', async () => {
    for (const [client, method, path] of [
      ['demo-etl', 'GET', '/users'],
      ['svc-reporting', 'GET', '/roles'],
      ['demo-etl', 'GET', '/users/admin'],
      ['demo-etl', 'GET', '/permissions'],
    ] as const) {
      const res = await call(deployment, client, method, path);
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ error: 'insufficient_scope', reason: 'no-matching-grant' });
    }
  });
});

describe('user management through the proxy', () => {
  const newUser = { username: 'etl-analyst', email: 'etl-analyst@example.com', first_name: 'ETL', last_name: 'Analyst', roles: [{ name: 'Viewer' }], password: 'analyst-pass-1' };

  it('an admin role manages FAB users when the proxy\'s FAB user may (service-account as Admin)', async () => {
    const list = await call('prod-admin', 'svc-admin', 'GET', '/users');
    expect(list.status).toBe(200);
    expect((list.body!.users as Array<{ username: string }>).map((u) => u.username)).toEqual(expect.arrayContaining(['admin', 'proxy', 'viewer']));
    const created = await call('prod-admin', 'svc-admin', 'POST', '/users', newUser);
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ username: 'etl-analyst', roles: [{ name: 'Viewer' }] });
    expect((await asAdmin('/users/etl-analyst')).username).toBe('etl-analyst');
    const removed = await fetch(`${broker.url}/airflow/prod-admin/api/v1/users/etl-analyst`, { method: 'DELETE', headers: { authorization: `Bearer ${await tokenFor('svc-admin', 'prod-admin')}` } });
    expect(removed.status).toBe(204);
    // roles: read only in this policy.
    expect((await call('prod-admin', 'svc-admin', 'GET', '/roles')).status).toBe(200);
    expect(await call('prod-admin', 'svc-admin', 'POST', '/roles', { name: 'Mallory', actions: [] })).toMatchObject({ status: 403, body: { reason: 'no-matching-grant' } });
  });

  it('the policy allows it, FAB still decides: through a proxy user with Op, Airflow itself answers 403', async () => {
    const res = await call('prod', 'svc-admin', 'GET', '/users');
    expect(res.status).toBe(403);
    expect(broker.audit.decisions.at(-1)).toMatchObject({ decision: 'allow', reason: 'grant-matched', upstream_status: 403 });
  });

  it('trusted-jwks: the admin caller is its own FAB user (Admin) and lists users; others are refused', async () => {
    const res = await call('staging', 'svc-admin', 'GET', '/users');
    expect(res.status).toBe(200);
    expect((res.body!.users as Array<{ username: string }>).map((u) => u.username)).toContain('svc-admin');
    expect((await call('staging', 'demo-etl', 'GET', '/users')).status).toBe(403);
  });
});

describe('Airflow 2 refusing the proxy\'s credentials', () => {
  it('airflow2-refuses-proxy-password: Airflow 2\'s 401 is a 502 about the proxy, never the caller\'s; then Retry-After', async () => {
    const first = await call('wrong-password', 'demo-etl', 'GET', '/dags/etl_daily');
    expect(first.status).toBe(502);
    expect(first.headers.get('www-authenticate')).toBeNull();
    expect(first.body).toMatchObject({ error: 'upstream_error', error_description: expect.stringContaining('the proxy\'s credentials') });
    expect(broker.audit.decisions.at(-1)).toMatchObject({ decision: 'allow', upstream_status: 502 });
    const next = await call('wrong-password', 'demo-etl', 'GET', '/dags/etl_daily');
    expect(next.status).toBe(502);
    expect(Number(next.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('companion-refuses-proxy-token: a per-caller token the companion refuses (wrong aud) is a 502 too', async () => {
    const res = await call('wrong-audience', 'demo-etl', 'GET', '/dags/etl_daily');
    expect(res.status).toBe(502);
    expect(res.headers.get('www-authenticate')).toBeNull();
    expect(res.body).toMatchObject({ error: 'upstream_error' });
  });
});

describe('versions and mounts', () => {
  it.each(['/version', '/health'])('public-operation-needs-no-token: GET /api/v1%s is served without one, as Airflow 2 serves it', async (path) => {
    const direct = await fetch(`${airflow.url}/api/v1${path}`);
    expect(direct.status).toBe(200);
    const res = await fetch(`${broker.url}/airflow/prod/api/v1${path}`);
    expect(res.status).toBe(200);
    if (path === '/version') expect(await res.json()).toEqual(await direct.json());
    expect(broker.audit.decisions.at(-1)).toMatchObject({ decision: 'allow', reason: 'public-operation' });
  });

  it.each(['/airflow/prod/api/v2/dags', '/airflow/staging/api/v2/dags', '/airflow/prod/auth/token'])('never proxies %s to an Airflow 2 upstream', async (path) => {
    const res = await fetch(`${broker.url}${path}`, { headers: { authorization: `Bearer ${await tokenFor('demo-etl', 'prod')}` } });
    expect(res.status).toBe(404);
  });
});

describe('the OpenAPI document of Airflow 2 through the proxy', () => {
  const operationIds = (doc: { paths: Record<string, Record<string, { operationId?: string }>> }) =>
    Object.values(doc.paths).flatMap((item) => ['get', 'put', 'post', 'delete', 'patch'].flatMap((m) => item[m]?.operationId ?? [])).sort();
  type Doc = { servers: Array<{ url: string }>; paths: Record<string, Record<string, { operationId?: string }>> };

  it('Connexion\'s v1 document, with the v1 paths below a server at the deployment\'s /api/v1 through the proxy', async () => {
    const res = await fetch(`${broker.url}/airflow/prod/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Doc;
    expect(doc.servers).toEqual([expect.objectContaining({ url: `${broker.url}/airflow/prod/api/v1` })]);
    expect(operationIds(doc)).toEqual(apiVersions.v1.operations.filter((o) => o.access !== 'never').map((o) => o.name).sort());
    // Airflow 2 serves the same document without credentials.
    expect((await fetch(`${airflow.url}/api/v1/openapi.yaml`)).status).toBe(200);
  });

  it('openapi-generator finds no issue in it', async () => {
    const jar = execFileSync('scripts/openapi-generator/ensure-openapi-generator.sh', { encoding: 'utf8' }).trim().split('\n').pop()!;
    const { stdout } = await promisify(execFile)('java', ['-jar', jar, 'validate', '-i', `${broker.url}/airflow/prod/openapi.json`], { timeout: 120_000 });
    expect(stdout).toContain('No validation issues detected');
  }, 180_000);

  it('with demo-etl\'s token: only what it may call, and a documented path resolves through the proxy', async () => {
    const authorization = `Bearer ${await tokenFor('demo-etl', 'prod')}`;
    const doc = (await (await fetch(`${broker.url}/airflow/prod/openapi.json`, { headers: { authorization } })).json()) as Doc;
    const ids = operationIds(doc);
    expect(ids).toEqual(expect.arrayContaining(['get_dags', 'post_dag_run']));
    expect(ids).not.toContain('delete_dag');
    expect(Object.keys(doc.paths)).toContain('/dags');
    const res = await fetch(`${doc.servers[0]!.url}/dags`, { headers: { authorization } });
    expect(dagIds((await res.json()) as Record<string, unknown>)).toEqual(['etl_daily', 'etl_hourly']);
  });
});
