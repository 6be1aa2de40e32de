import { resolve } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { decodeJwt } from 'jose';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { adminOpenApi } from '../../src/admin/admin-openapi.js';
import { ADMIN_ROUTES } from '../../src/admin/admin-router.js';
import { basic, PROD_AUDIENCE, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';

let directory: DevDirectory;
let broker: Broker;
let adminToken: string;
const POLICY = resolve('test/fixtures/policy/with-admin.yaml');

beforeAll(async () => {
  directory = await startDirectory({
    accounts: [
      { clientId: 'demo-etl', secret: 'demo-etl-secret', groups: ['airflow-etl'] },
      { clientId: 'svc-secadmin', secret: 'svc-secadmin-secret', groups: [] },
    ],
  });
  process.env.ATB_TEST_UNUSED_PASSWORD = 'x';
  broker = await startBroker(directory, {
    policyFile: POLICY,
    configure: (c) => {
      // A deployment whose Airflow is not running: denied calls never reach it.
      c.upstreams.prod = { audience: PROD_AUDIENCE, url: 'http://127.0.0.1:9', credentials: { mode: 'service-account', username: 'proxy', password: '${ATB_TEST_UNUSED_PASSWORD}' } };
    },
  });
  adminToken = await issue('svc-secadmin', 'svc-secadmin-secret', `${broker.url}/admin`);
});
afterAll(async () => {
  await broker.close();
  await directory.close();
});

async function issue(client: string, secret: string, resource?: string): Promise<string> {
  const res = await tokenRequest(broker, { grant_type: 'client_credentials', ...(resource ? { resource } : {}) }, { authorization: basic(client, secret) });
  expect(res.status).toBe(200);
  return res.body.access_token as string;
}

async function admin(method: string, path: string, body?: unknown, token = adminToken) {
  const res = await fetch(`${broker.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, any> };
}

describe('who may use the admin API', () => {
  it('no-token: 401 with a bare Bearer challenge (RFC 6750 §3.1: no error details without credentials)', async () => {
    const res = await fetch(`${broker.url}/admin/policy`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="airflow-token-broker"');
  });

  it('bad-token: 401 with error="invalid_token"', async () => {
    const res = await fetch(`${broker.url}/admin/policy`, { headers: { authorization: 'Bearer not-a-token' } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="airflow-token-broker", error="invalid_token"/);
  });

  it('deployment-token: a token for an Airflow deployment is not an admin token', async () => {
    const res = await admin('GET', '/admin/policy', undefined, await issue('svc-secadmin', 'svc-secadmin-secret'));
    expect(res.status).toBe(401);
  });

  it('non-admin-role: no admin-audience token is issued without an admin role', async () => {
    const res = await tokenRequest(broker, { grant_type: 'client_credentials', resource: `${broker.url}/admin` }, { authorization: basic('demo-etl', 'demo-etl-secret') });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_scope');
  });

  it('admin-token-at-the-proxy: refused there', async () => {
    const res = await fetch(`${broker.url}/airflow/prod/api/v2/dags`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(res.status).toBe(401);
  });

  it('admin role removed from the policy: the same token is refused', async () => {
    const file = `${broker.dir}/policy.yaml`;
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, original.replace('admin: true', 'admin: false'));
    expect(broker.services.policyReloader.reload('admin').outcome).toBe('reloaded');
    try {
      const res = await admin('GET', '/admin/policy');
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ error: 'insufficient_scope', reason: 'not-an-admin' });
    } finally {
      writeFileSync(file, original);
      broker.services.policyReloader.reload('admin');
    }
  });
});

describe('policy', () => {
  it('shows the policy in force and its hash', async () => {
    const res = await admin('GET', '/admin/policy');
    expect(res.status).toBe(200);
    expect(res.body.hash).toBe(broker.services.policies.current().hash);
    expect(Object.keys(res.body.policy.roles)).toEqual(['etl-operator', 'reporting-reader', 'security-admin']);
    expect(res.body.last_reload_error).toBeNull();
  });

  it('reload: a broken file is refused with located problems, the last good policy stays', async () => {
    const file = `${broker.dir}/policy.yaml`;
    const original = readFileSync(file, 'utf8');
    const before = broker.services.policies.current().hash;
    writeFileSync(file, original.replace('role: reporting-reader', 'role: reporting-raeder'));
    try {
      const refused = await admin('POST', '/admin/policy/reload');
      expect(refused.status).toBe(422);
      expect(refused.body.problems[0]).toMatch(/policy\.yaml:\d+:\d+ error: bindings\[1\]\.role: binding to undefined role "reporting-raeder"/);
      expect(broker.services.policies.current().hash).toBe(before);
      expect((await admin('GET', '/admin/policy')).body.last_reload_error.problems).toEqual(refused.body.problems);
    } finally {
      writeFileSync(file, original);
    }
    expect((await admin('POST', '/admin/policy/reload')).body.outcome).toBe('unchanged');
  });
});

describe('explain', () => {
  it('names the deciding role and grant for an identity', async () => {
    const res = await admin('POST', '/admin/explain', { method: 'POST', path: '/api/v2/dags/etl_daily/dagRuns', claims: { client_id: 'demo-etl', groups: ['airflow-etl'] } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ verdict: 'allow', roles: ['etl-operator'], decision: { reason: 'grant-matched', rule: { role: 'etl-operator', effect: 'allow', index: 0 } } });
    expect(res.body.operations[0]).toMatchObject({ operationId: 'trigger_dag_run', resource: 'dags', action: 'trigger', resourceIds: ['etl_daily'] });
  });

  it('explains a denial for a token', async () => {
    const token = await issue('demo-etl', 'demo-etl-secret');
    const res = await admin('POST', '/admin/explain', { method: 'POST', path: '/airflow/prod/api/v2/dags/payroll_monthly/dagRuns', token });
    expect(res.body).toMatchObject({ verdict: 'deny', decision: { reason: 'no-matching-grant' } });
  });

  it('refuses a path the proxy would refuse', async () => {
    const res = await admin('POST', '/admin/explain', { method: 'GET', path: '/api/v2/dags/%2e%2e/connections', claims: { scope: 'etl-operator' } });
    expect(res.status).toBe(400);
  });

  it('explains FAB user management (/auth/fab/v1) as the proxy decides it: a DAG role reaches no user', async () => {
    const res = await admin('POST', '/admin/explain', { method: 'DELETE', path: '/airflow/prod/auth/fab/v1/users/admin', claims: { scope: 'etl-operator' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      verdict: 'deny',
      request: { upstream: 'prod', api: 'v2', root: '/auth/fab/v1', apiPath: '/users/admin' },
      refusal: { error: 'insufficient_scope', reason: 'no-matching-grant', operation: 'delete_user', resource: 'users', resource_id: 'admin', action: 'delete' },
    });
    // The proxy answers 404 for the rest of /auth: so does explain, before any decision.
    const token = await admin('POST', '/admin/explain', { method: 'POST', path: '/airflow/prod/auth/token', claims: { scope: 'etl-operator' } });
    expect(token).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: expect.stringContaining('the proxy answers 404') } });
  });

  it('decides on the deployment given, and refuses one that is not an upstream', async () => {
    const call = { method: 'GET', path: '/api/v2/dags/etl_daily', claims: { scope: 'etl-operator' } };
    expect((await admin('POST', '/admin/explain', { ...call, deployment: 'staging' })).body).toMatchObject({ verdict: 'allow', request: { upstream: 'staging' } });
    const res = await admin('POST', '/admin/explain', { ...call, deployment: 'stagign' });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_request', error_description: 'deployment: no upstream "stagign"' });
  });
});

describe('revocation and recent decisions', () => {
  it('revokes every token of a leaked client at once, and audits who did it', async () => {
    const t1 = await issue('demo-etl', 'demo-etl-secret');
    const t2 = await issue('demo-etl', 'demo-etl-secret');
    const res = await admin('POST', '/admin/revocations', { client_id: 'demo-etl' });
    expect(res.status).toBe(201);
    for (const t of [t1, t2]) {
      const r = await fetch(`${broker.url}/airflow/prod/api/v2/dags/etl_daily`, { headers: { authorization: `Bearer ${t}` } });
      expect(r.status).toBe(401);
    }
    expect(broker.audit.admins.at(-1)).toMatchObject({ event: 'admin_revocation', admin_sub: 'svc-secadmin', target: { client_id: 'demo-etl' } });
    await new Promise((r) => setTimeout(r, 1_100));
    // No new tokens for the leaked client (not only within the cut-off second) until the block is lifted.
    const refused = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('demo-etl', 'demo-etl-secret') });
    expect([refused.status, refused.body.error]).toEqual([401, 'invalid_client']);
    expect((await admin('DELETE', '/admin/blocks/client_id/demo-etl')).body.lifted).toBe(true);
    const fresh = await issue('demo-etl', 'demo-etl-secret');
    const r = await fetch(`${broker.url}/airflow/prod/api/v2/dags/payroll_monthly`, { headers: { authorization: `Bearer ${fresh}` } });
    expect(r.status).toBe(403); // authenticated (not 401), then denied by policy
    for (const t of [t1, t2]) {
      const again = await fetch(`${broker.url}/airflow/prod/api/v2/dags/etl_daily`, { headers: { authorization: `Bearer ${t}` } });
      expect(again.status).toBe(401); // lifting the block revives none of the revoked tokens
    }
  });

  it('revokes one token by jti', async () => {
    const t = await issue('svc-secadmin', 'svc-secadmin-secret');
    expect((await admin('POST', '/admin/revocations', { jti: decodeJwt(t).jti })).status).toBe(201);
    expect((await fetch(`${broker.url}/airflow/prod/api/v2/dags`, { headers: { authorization: `Bearer ${t}` } })).status).toBe(401);
  });

  it('refuses a revocation naming two targets', async () => {
    expect((await admin('POST', '/admin/revocations', { sub: 'a', client_id: 'b' })).status).toBe(400);
  });

  it('lists the recent decisions for a subject, newest first', async () => {
    const res = await admin('GET', '/admin/decisions?sub=demo-etl&limit=5');
    expect(res.status).toBe(200);
    // Newest: the revoked tokens refused after the block was lifted (a verified signature names its subject),
    // then the policy denial of the fresh token before them.
    expect(res.body.decisions[0]).toMatchObject({ event: 'proxy_decision', sub: 'demo-etl', path: '/dags/etl_daily', decision: 'deny', reason: 'invalid_token', token_rejection: 'revoked' });
    expect(res.body.decisions[2]).toMatchObject({ event: 'proxy_decision', sub: 'demo-etl', path: '/dags/payroll_monthly', decision: 'deny', reason: 'no-matching-grant' });
    expect(res.body.decisions.every((d: { sub: string }) => d.sub === 'demo-etl')).toBe(true);
  });
});

describe('OpenAPI document', () => {
  it('is served without a token and documents exactly the routes the admin router serves', async () => {
    const doc = (await (await fetch(`${broker.url}/admin/openapi.json`)).json()) as typeof adminOpenApi;
    expect(doc.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)).sort();
    const served = [...ADMIN_ROUTES.map((r) => r.replace(' /', ' /admin/')), 'GET /admin/openapi.json'].sort();
    expect(documented).toEqual(served);
    // Each documented route is served: an admin call gets anything but 404.
    for (const route of documented) {
      const [method, path] = route.split(' ') as [string, string];
      const res = await fetch(`${broker.url}${path}`, { method, headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, body: method === 'POST' ? '{}' : undefined });
      expect([route, res.status]).not.toEqual([route, 404]);
    }
    // An undocumented path under /admin is not served.
    expect((await fetch(`${broker.url}/admin/users`, { headers: { authorization: `Bearer ${adminToken}` } })).status).toBe(404);
  });
});
