import { resolve } from 'node:path';
import { startDevDirectory, type DevDirectory } from '../../scripts/dev-directory.js';
import { fabAuthOperations } from '../../src/airflow/catalog/fab-auth-operations.js';
import { airflowLogin, startAirflow, type AirflowServer } from '../helpers/airflow-server.js';
import { basic, PROD_AUDIENCE, startBroker, tokenRequest, type Broker } from '../helpers/broker-harness.js';
import { fabUsersMatrix, newUser, REFUSED_USERNAME } from '../fixtures/fab-users-matrix.js';

/**
 * User management through the proxy on real Airflow 3.3.2 servers with the FAB auth manager: two deployments,
 * "test" and "prod", each its own Airflow home and database. The security team's automation (`user-admin`,
 * explicit `users`/`roles` grants) creates a user, reads it, changes its roles and deletes it on both; every other
 * role, including one holding every other kind with `*` and every action, is refused with the refusal body, and
 * Airflow itself shows that nothing happened. The proxy calls Airflow as the FAB user `proxy`, an Admin: FAB
 * checks that user's permissions, so it must be allowed to manage users (docs/airflow.md).
 */

const timeout = 300_000;
const TEST_AUDIENCE = 'https://airflow.test.example';
const deployments = { test: TEST_AUDIENCE, prod: PROD_AUDIENCE } as const;
type DeploymentName = keyof typeof deployments;
const accounts = [
  { clientId: 'user-admin', secret: 'user-admin-secret', groups: ['airflow-user-admins'] },
  { clientId: 'svc-user-admin', secret: 'svc-user-admin-secret', groups: ['airflow-svc-user-admins'] },
  { clientId: 'everything', secret: 'everything-secret', groups: ['airflow-everything'] },
  { clientId: 'demo-etl', secret: 'demo-etl-secret', groups: ['airflow-etl'] },
];

let directory: DevDirectory;
let broker: Broker;
const airflow = {} as Record<DeploymentName, AirflowServer>;
const tokens: Record<string, string> = {};
const adminTokens = {} as Record<DeploymentName, string>;

beforeAll(async () => {
  const env = { AIRFLOW_AUTH_MANAGER: 'fab', AIRFLOW_FAB_USERS: 'admin:Admin,proxy:Admin,svc-existing:Viewer' };
  // One after the other: two first-time `db migrate`s at once would only compete for the two cores.
  airflow.test = await startAirflow({ env, timeoutMs: timeout });
  airflow.prod = await startAirflow({ env, timeoutMs: timeout });
  directory = await startDevDirectory({ accounts });
  process.env.ATB_TEST_FAB_PROXY_PASSWORD = 'proxy-pass';
  broker = await startBroker(directory, {
    policyFile: resolve('test/fixtures/policy/fab-users.yaml'),
    configure: (c) => {
      c.upstreams = Object.fromEntries(
        Object.entries(deployments).map(([name, audience]) => [
          name,
          { audience, url: airflow[name as DeploymentName].url, credentials: { mode: 'service-account', username: 'proxy', password: '${ATB_TEST_FAB_PROXY_PASSWORD}' } },
        ]),
      );
    },
  });
  for (const a of accounts) {
    for (const [name, resource] of Object.entries(deployments)) {
      const res = await tokenRequest(broker, { grant_type: 'client_credentials', resource }, { authorization: basic(a.clientId, a.secret) });
      expect(res.status).toBe(200);
      tokens[`${a.clientId}@${name}`] = res.body.access_token as string;
    }
  }
  for (const name of Object.keys(deployments) as DeploymentName[]) {
    const login = await airflowLogin(airflow[name], 'admin', 'admin-pass');
    expect(login.status).toBe(201);
    adminTokens[name] = `Bearer ${((await login.json()) as { access_token: string }).access_token}`;
  }
}, timeout * 2);

afterAll(async () => {
  await broker?.close();
  await directory?.close();
  await airflow.test?.stop();
  await airflow.prod?.stop();
}, timeout);

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** A call through the proxy as `client`, below `/airflow/<deployment>`. */
async function viaProxy(client: string, deployment: DeploymentName, method: string, path: string, body?: unknown): Promise<Answer> {
  const res = await fetch(`${broker.url}/airflow/${deployment}${path}`, {
    method,
    headers: { authorization: `Bearer ${tokens[`${client}@${deployment}`]}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return answer(res);
}

/** Straight at Airflow as its own FAB admin: what really is there. */
async function atAirflow(deployment: DeploymentName, path: string): Promise<Answer> {
  return answer(await fetch(`${airflow[deployment].url}${path}`, { headers: { authorization: adminTokens[deployment] } }));
}

const roleNames = (user: Record<string, unknown>) => (user.roles as Array<{ name: string }>).map((r) => r.name).sort();

describe.each(Object.keys(deployments) as DeploymentName[])('on deployment %s', (deployment) => {
  const username = `etl-alice-${deployment}`;

  it('user-admin creates a user, reads it, changes its roles and deletes it; Airflow shows each step', async () => {
    const created = await viaProxy('user-admin', deployment, 'POST', '/auth/fab/v1/users', newUser(username, ['Viewer']));
    expect(created).toMatchObject({ status: 200, body: { username, roles: [{ name: 'Viewer' }] } });
    expect(created.body).not.toHaveProperty('password');
    expect(roleNames((await atAirflow(deployment, `/auth/fab/v1/users/${username}`)).body)).toEqual(['Viewer']);

    const read = await viaProxy('user-admin', deployment, 'GET', `/auth/fab/v1/users/${username}`);
    expect(read).toMatchObject({ status: 200, body: { username, email: `${username}@example.invalid` } });

    const patched = await viaProxy('user-admin', deployment, 'PATCH', `/auth/fab/v1/users/${username}?update_mask=roles`, { roles: [{ name: 'Op' }, { name: 'Viewer' }] });
    expect(patched.status).toBe(200);
    expect(roleNames(patched.body)).toEqual(['Op', 'Viewer']);
    expect(roleNames((await atAirflow(deployment, `/auth/fab/v1/users/${username}`)).body)).toEqual(['Op', 'Viewer']);

    const audited = broker.audit.decisions.filter((d) => d.deployment === deployment && d.operation === 'update_user');
    expect(audited.at(-1)).toMatchObject({ resource: 'users', action: 'write', resource_ids: [username], decision: 'allow', upstream_status: 200, client_id: 'user-admin' });

    const deleted = await fetch(`${broker.url}/airflow/${deployment}/auth/fab/v1/users/${username}`, { method: 'DELETE', headers: { authorization: `Bearer ${tokens[`user-admin@${deployment}`]}` } });
    expect(deleted.status).toBe(204);
    expect((await atAirflow(deployment, `/auth/fab/v1/users/${username}`)).status).toBe(404);
  }, timeout);

  it('user-admin creates a role, renames it, deletes it', async () => {
    const role = `etl-auditors-${deployment}`;
    const permission = { action: { name: 'can_read' }, resource: { name: 'DAGs' } };
    expect(await viaProxy('user-admin', deployment, 'POST', '/auth/fab/v1/roles', { name: role, actions: [permission] })).toMatchObject({ status: 200, body: { name: role } });
    const renamed = await viaProxy('user-admin', deployment, 'PATCH', `/auth/fab/v1/roles/${role}?update_mask=name`, { name: `${role}-2`, actions: [] });
    expect(renamed).toMatchObject({ status: 200, body: { name: `${role}-2` } });
    expect((await atAirflow(deployment, `/auth/fab/v1/roles/${role}-2`)).body).toMatchObject({ name: `${role}-2`, actions: [permission] });
    expect((await viaProxy('user-admin', deployment, 'DELETE', `/auth/fab/v1/roles/${role}-2`)).status).toBe(200);
    expect((await atAirflow(deployment, `/auth/fab/v1/roles/${role}-2`)).status).toBe(404);
  }, timeout);

  it.each(fabUsersMatrix.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const path = `/auth/fab/v1${c.path}${c.query ? `?${c.query}` : ''}`;
    const got = await viaProxy(c.client, deployment, c.method, path, c.body);
    if (c.expect === 'deny') {
      expect(got.status).toBe(403);
      expect(got.body).toMatchObject({ error: 'insufficient_scope', reason: c.reason, operation: expect.any(String), resource: expect.stringMatching(/^(users|roles)$/) });
      expect(got.body.error_description).toMatch(/^the token does not allow /);
    } else {
      expect(got.status).toBe(200);
    }
    const decision = broker.audit.decisions.at(-1)!;
    expect({ decision: decision.decision, reason: decision.reason, filtered: decision.filtered }).toEqual({
      decision: c.expect === 'deny' ? 'deny' : 'allow',
      reason: c.reason,
      filtered: c.expect === 'filter',
    });
  });

  it('after every refusal nothing changed at Airflow: no new user or role, admin still Admin, Viewer still there', async () => {
    expect((await atAirflow(deployment, `/auth/fab/v1/users/${REFUSED_USERNAME}`)).status).toBe(404);
    expect((await atAirflow(deployment, '/auth/fab/v1/roles/mallory-role')).status).toBe(404);
    expect(roleNames((await atAirflow(deployment, '/auth/fab/v1/users/admin')).body)).toEqual(['Admin']);
    expect((await atAirflow(deployment, '/auth/fab/v1/users/svc-existing')).body).toMatchObject({ username: 'svc-existing', last_name: 'renamed-not' });
    expect((await atAirflow(deployment, '/auth/fab/v1/users/renamed')).status).toBe(404);
    const viewer = await atAirflow(deployment, '/auth/fab/v1/roles/Viewer');
    expect(viewer.status).toBe(200);
    expect((viewer.body.actions as unknown[]).length).toBeGreaterThan(0);
  });

  it('a role limited to svc-* users sees only those in the list, counted as such', async () => {
    const all = await atAirflow(deployment, '/auth/fab/v1/users');
    expect((all.body.users as Array<{ username: string }>).map((u) => u.username)).toEqual(expect.arrayContaining(['admin', 'proxy', 'svc-existing']));
    const listed = await viaProxy('svc-user-admin', deployment, 'GET', '/auth/fab/v1/users?limit=10');
    expect(listed.status).toBe(200);
    expect({ users: (listed.body.users as Array<{ username: string }>).map((u) => u.username), total: listed.body.total_entries }).toEqual({ users: ['svc-existing'], total: 1 });
    const roles = await viaProxy('svc-user-admin', deployment, 'GET', '/auth/fab/v1/roles');
    expect(roles).toMatchObject({ status: 200, body: { roles: [], total_entries: 0 } });
  });

  it.each([
    ['GET', '/auth/logout'],
    ['POST', '/auth/token'],
    ['POST', '/auth/token/cli'],
    ['GET', '/auth/users/list'],
  ])('%s %s, which this Airflow serves, is not found through the proxy', async (method, path) => {
    const got = await viaProxy('user-admin', deployment, method, path, method === 'POST' ? { username: 'admin', password: 'admin-pass' } : undefined);
    expect(got).toMatchObject({ status: 404, body: { error: 'invalid_request' } });
    // The proxy's own Airflow token was not presented to /auth/logout: it still works.
    expect((await viaProxy('user-admin', deployment, 'GET', '/auth/fab/v1/users/admin')).status).toBe(200);
  });
});

it('the catalog is what Airflow serves: every operation of /auth/fab/v1 in its OpenAPI document, and no other', async () => {
  // FAB's app is mounted at /auth; its document's paths are below that mount (`/fab/v1/users`, `/token`).
  const doc = (await (await fetch(`${airflow.prod.url}/auth/openapi.json`)).json()) as { paths: Record<string, Record<string, { operationId: string }>> };
  const served = Object.entries(doc.paths)
    .filter(([path]) => path.startsWith('/fab/v1/'))
    .flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => `${method.toUpperCase()} ${path.slice('/fab/v1'.length)} ${op.operationId}`))
    .sort();
  expect(fabAuthOperations.map((o) => `${o.method} ${o.template} ${o.name}`).sort()).toEqual(served);
  // Everything else FAB's app documents below /auth is a path the proxy never forwards.
  const rest = Object.keys(doc.paths).filter((path) => !path.startsWith('/fab/v1/'));
  expect(rest.sort()).toEqual(['/logout', '/token', '/token/cli']);
});
