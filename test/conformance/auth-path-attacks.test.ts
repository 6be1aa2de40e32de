import { request } from 'node:http';
import { resolve } from 'node:path';
import { startDevDirectory, type DevDirectory } from '../../scripts/dev-directory.js';
import { basic, PROD_AUDIENCE, STAGING_AUDIENCE, startBroker, tokenRequest, type Broker } from '../helpers/broker-harness.js';
import { RecordingUpstream } from '../helpers/recording-upstream.js';

/**
 * Below a deployment, the proxy forwards FAB's user management (`/auth/fab/v1/users|roles|permissions`) and
 * nothing else of Airflow's `/auth` mount: not `/auth/logout` (FAB's logout: clears the session cookies), not
 * `/auth/token` (FAB's password login), not FAB's Flask pages; and never `/api/v2/auth/logout` (Airflow 3.3.2 revokes
 * every token presented there, which would be the proxy's own). Those are 404 before any token is read, or 400
 * where the path is one the proxy refuses to read at all (dot segments, encoded separators). `users` and `roles`
 * are granted only by grants that name them: no wildcard of another kind reaches them. `prod` is Airflow 3, `staging`
 * Airflow 2.
 */

let upstream: RecordingUpstream;
let directory: DevDirectory;
let broker: Broker;
const accounts = [
  { clientId: 'user-admin', secret: 'user-admin-secret', groups: ['airflow-user-admins'] },
  { clientId: 'everything', secret: 'everything-secret', groups: ['airflow-everything'] },
  { clientId: 'demo-etl', secret: 'demo-etl-secret', groups: ['airflow-etl'] },
];
const tokens: Record<string, string> = {};

beforeAll(async () => {
  upstream = new RecordingUpstream();
  await upstream.start();
  directory = await startDevDirectory({ accounts });
  process.env.ATB_TEST_STANDIN_PASSWORD = 'stand-in-pass';
  const credentials = { mode: 'service-account' as const, username: 'proxy', password: '${ATB_TEST_STANDIN_PASSWORD}' };
  const timeouts = { connect: '1s', headers: '1s', body: '1s' };
  broker = await startBroker(directory, {
    policyFile: resolve('test/fixtures/policy/fab-users.yaml'),
    configure: (c) => {
      c.upstreams.prod = { audience: PROD_AUDIENCE, url: upstream.url, credentials, timeouts };
      c.upstreams.staging = { audience: STAGING_AUDIENCE, url: upstream.url, api: 'v1', credentials, timeouts };
    },
  });
  for (const a of accounts) {
    for (const [deployment, resource] of [['prod', PROD_AUDIENCE], ['staging', STAGING_AUDIENCE]] as const) {
      const res = await tokenRequest(broker, { grant_type: 'client_credentials', resource }, { authorization: basic(a.clientId, a.secret) });
      expect(res.status).toBe(200);
      tokens[`${a.clientId}@${deployment}`] = res.body.access_token as string;
    }
  }
});
afterAll(async () => {
  await broker.close();
  await directory.close();
  upstream.close();
});
beforeEach(() => {
  upstream.reset();
  broker.audit.decisions.length = 0;
});

/** A raw request: `fetch` would resolve `..` and re-encode the path before sending it. */
function send(method: string, path: string, authorization?: string, body?: string): Promise<{ status: number; headers: Record<string, unknown>; body: Record<string, unknown> }> {
  const url = new URL(broker.url);
  return new Promise((done, fail) => {
    const headers: Record<string, string> = {};
    if (authorization) headers.authorization = authorization;
    if (body !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
    const req = request({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        done({ status: res.statusCode!, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
      });
    });
    req.on('error', fail);
    req.end(body);
  });
}
const bearer = (who: string) => `Bearer ${tokens[who]}`;

describe('FAB user management is proxied on an Airflow 3 deployment, for a role granted users and roles', () => {
  it.each([
    ['GET', '/auth/fab/v1/users', undefined],
    ['GET', '/auth/fab/v1/users/alice', undefined],
    ['POST', '/auth/fab/v1/users', '{"username":"alice","email":"a@example.invalid","first_name":"A","last_name":"L","password":"x"}'],
    ['PATCH', '/auth/fab/v1/users/alice?update_mask=roles', '{"roles":[{"name":"Viewer"}]}'],
    ['DELETE', '/auth/fab/v1/users/alice', undefined],
    ['GET', '/auth/fab/v1/roles', undefined],
    ['GET', '/auth/fab/v1/roles/Viewer', undefined],
    ['POST', '/auth/fab/v1/roles', '{"name":"svc-reader","actions":[]}'],
    ['PATCH', '/auth/fab/v1/roles/svc-reader', '{"name":"svc-reader","actions":[]}'],
    ['DELETE', '/auth/fab/v1/roles/svc-reader', undefined],
    ['GET', '/auth/fab/v1/permissions', undefined],
  ])('%s %s reaches Airflow at the same path with the proxy\'s credentials', async (method, path, body) => {
    const answer = await send(method, `/airflow/prod${path}`, bearer('user-admin@prod'), body);
    expect(answer.status).toBe(200);
    expect(upstream.seen.map((r) => `${r.method} ${r.url}`)).toEqual([`${method} ${path}`]);
    expect(upstream.seen[0]!.headers.authorization).not.toBe(bearer('user-admin@prod'));
    if (body) expect(JSON.parse(upstream.seen[0]!.body.toString())).toEqual(JSON.parse(body));
  });

  it('the audit record names the user acted on', async () => {
    await send('PATCH', '/airflow/prod/auth/fab/v1/users/alice', bearer('user-admin@prod'), '{"roles":[{"name":"Op"}]}');
    expect(broker.audit.decisions).toContainEqual(
      expect.objectContaining({ event: 'proxy_decision', deployment: 'prod', operation: 'update_user', resource: 'users', action: 'write', resource_ids: ['alice'], path: '/users/alice', decision: 'allow' }),
    );
  });

  it('renaming a user needs write on the new name too', async () => {
    const answer = await send('PATCH', '/airflow/prod/auth/fab/v1/users/alice?update_mask=username', bearer('user-admin@prod'), '{"username":"alice2"}');
    expect(answer.status).toBe(200);
    expect(broker.audit.decisions).toContainEqual(expect.objectContaining({ operation: 'update_user', resource_ids: ['alice', 'alice2'] }));
  });

  it('renaming a role needs write on the new name too', async () => {
    const answer = await send('PATCH', '/airflow/prod/auth/fab/v1/roles/Viewer', bearer('user-admin@prod'), '{"name":"Viewer2","actions":[]}');
    expect(answer.status).toBe(200);
    expect(broker.audit.decisions).toContainEqual(expect.objectContaining({ operation: 'patch_role', resource_ids: ['Viewer', 'Viewer2'] }));
  });
});

describe('users and roles are granted only explicitly', () => {
  it.each([
    ['wildcard-grants-of-every-other-kind-reach-no-user', 'everything', 'GET', '/auth/fab/v1/users/admin', undefined, 'users', 'read'],
    ['wildcard-grants-of-every-other-kind-create-no-user', 'everything', 'POST', '/auth/fab/v1/users', '{"username":"mallory","email":"m@example.invalid","first_name":"M","last_name":"M","password":"x"}', 'users', 'write'],
    ['wildcard-grants-of-every-other-kind-list-no-user', 'everything', 'GET', '/auth/fab/v1/users', undefined, 'users', 'read'],
    ['wildcard-grants-of-every-other-kind-patch-no-role', 'everything', 'PATCH', '/auth/fab/v1/roles/Admin', '{"name":"Admin","actions":[]}', 'roles', 'write'],
    ['wildcard-grants-of-every-other-kind-list-no-permission', 'everything', 'GET', '/auth/fab/v1/permissions', undefined, 'roles', 'read'],
    ['a-dag-role-deletes-no-user', 'demo-etl', 'DELETE', '/auth/fab/v1/users/admin', undefined, 'users', 'delete'],
  ])('%s', async (_, who, method, path, body, resource, action) => {
    const answer = await send(method, `/airflow/prod${path}`, bearer(`${who}@prod`), body);
    expect(answer.status).toBe(403);
    expect(answer.body).toMatchObject({ error: 'insufficient_scope', reason: 'no-matching-grant', resource, action });
    expect(upstream.seen).toHaveLength(0);
  });

  it.each([
    ['GET', '/api/v1/users/admin'],
    ['GET', '/api/v1/users'],
    ['DELETE', '/api/v1/roles/Admin'],
    ['GET', '/api/v1/permissions'],
  ])('wildcard-grants-of-every-other-kind-reach-no-user-on-airflow-2: %s %s', async (method, path) => {
    const answer = await send(method, `/airflow/staging${path}`, bearer('everything@staging'));
    expect(answer.status).toBe(403);
    expect(answer.body).toMatchObject({ error: 'insufficient_scope', reason: 'no-matching-grant' });
    expect(upstream.seen).toHaveLength(0);
  });
});

describe('nothing else below /auth is proxied', () => {
  it.each([
    ['auth-logout-is-not-found', 'GET', '/auth/logout'],
    ['auth-token-is-not-found', 'POST', '/auth/token'],
    ['auth-token-cli-is-not-found', 'POST', '/auth/token/cli'],
    ['auth-login-is-not-found', 'GET', '/auth/login'],
    ['fab-flask-pages-are-not-found', 'GET', '/auth/users/list'],
    ['fab-root-is-not-found', 'GET', '/auth/fab/v1'],
    ['unknown-path-below-the-fab-root-is-not-found', 'POST', '/auth/fab/v1/token'],
    ['logout-below-the-fab-root-is-not-found', 'GET', '/auth/fab/v1/logout'],
    ['deeper-path-below-a-user-is-not-found', 'GET', '/auth/fab/v1/users/alice/roles'],
    ['other-fab-version-is-not-found', 'GET', '/auth/fab/v2/users'],
    ['case-changed-root-is-not-found', 'GET', '/auth/FAB/v1/users'],
    ['encoded-letters-in-the-root-are-not-found', 'GET', '/auth/%66ab/v1/users'],
  ])('%s', async (_, method, path) => {
    const logins = upstream.logins;
    for (const authorization of [bearer('user-admin@prod'), undefined]) {
      const answer = await send(method, `/airflow/prod${path}`, authorization);
      expect({ status: answer.status, error: answer.body.error }).toEqual({ status: 404, error: 'invalid_request' });
    }
    expect(upstream.seen).toHaveLength(0);
    expect(upstream.logins).toBe(logins);
  });

  it.each([
    ['dot-segments-out-of-the-fab-root', '/auth/fab/v1/../../token'],
    ['dot-segment-to-logout', '/auth/fab/v1/users/../../../logout'],
    ['encoded-dot-segments', '/auth/fab/v1/%2e%2e/%2e%2e/logout'],
    ['encoded-slash-in-the-root', '/auth/fab%2Fv1/users'],
    ['encoded-slash-in-the-username', '/auth/fab/v1/users/alice%2F..%2F..%2Flogout'],
    ['encoded-backslash', '/auth/fab/v1/users/%5C..%5Clogout'],
    ['double-encoded-dots', '/auth/fab/v1/%252e%252e/logout'],
    ['trailing-slash-on-a-flask-page', '/auth/users/list/'],
    ['empty-segment-in-the-root', '/auth//fab/v1/users'],
  ])('%s is refused as a bad request and not forwarded', async (_, path) => {
    const answer = await send('GET', `/airflow/prod${path}`, bearer('user-admin@prod'));
    expect({ status: answer.status, error: answer.body.error }).toEqual({ status: 400, error: 'invalid_request' });
    expect(upstream.seen).toHaveLength(0);
  });

  it.each([
    ['GET', '/api/v2/auth/logout'],
    ['GET', '/api/v2/auth/login'],
  ])('api-v2-auth-logout-revokes-the-presented-token-so-it-is-never-forwarded: %s %s', async (method, path) => {
    const answer = await send(method, `/airflow/prod${path}`, bearer('user-admin@prod'));
    expect(answer).toMatchObject({ status: 403, body: { error: 'insufficient_scope', reason: 'operation-not-proxied' } });
    expect(upstream.seen).toHaveLength(0);
  });

  it('fab-api-on-an-airflow-2-deployment-is-not-found', async () => {
    const answer = await send('GET', '/airflow/staging/auth/fab/v1/users', bearer('user-admin@staging'));
    expect(answer).toMatchObject({ status: 404, body: { error: 'invalid_request', error_description: 'only /api/v1 is proxied' } });
    expect(upstream.seen).toHaveLength(0);
  });

  it('a method FAB has not for a path is 405 with Allow, before any token', async () => {
    const answer = await send('PUT', '/airflow/prod/auth/fab/v1/users/alice', undefined, '{}');
    expect(answer.status).toBe(405);
    expect(answer.headers.allow).toBe('DELETE, GET, PATCH');
    expect(upstream.seen).toHaveLength(0);
  });

  it('the FAB api without a token is 401 like every API call', async () => {
    const answer = await send('GET', '/airflow/prod/auth/fab/v1/users/alice');
    expect(answer.status).toBe(401);
    expect(upstream.seen).toHaveLength(0);
  });
});
