import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SignJWT, type JWTPayload } from 'jose';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { finishedRun, freePort, startAirflow, unpauseDag, type AirflowServer } from '../helpers/airflow-server.js';
import { basic, PROD_AUDIENCE, STAGING_AUDIENCE, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';

/**
 * `trusted-jwks` on a real Airflow 3 with the FAB auth manager, extended by the companion
 * (`airflow_token_broker.fab_auth_manager.TokenBrokerFabAuthManager`, companions/): FAB only knows numeric user ids in
 * `sub`, so the broker's per-caller tokens name the FAB user in `fab_username` and the companion finds it, or
 * provisions it with the allow-listed roles of `fab_roles`.
 *
 * The set-up "dedicated API server for the broker": `workers` runs the scheduler and serves the Task Execution API
 * (Airflow's own HS512 `jwt_secret`, provisioning off); `brokerFacing` shares its database and trusts only the
 * broker's Airflow key set (provisioning on, `Viewer` and `User` allowed).
 */

const timeout = 300_000;
// start.sh's dev default for [api_auth] jwt_secret: what `workers` validates tokens with.
const DEV_JWT_SECRET = 'airflow-token-broker-dev-jwt-secret-not-for-production-0123456789abcdef';
const fab = { AIRFLOW_AUTH_MANAGER: 'fab' };
let workers: AirflowServer;
let brokerFacing: AirflowServer;
let directory: DevDirectory;
let broker: Broker;

beforeAll(async () => {
  directory = await startDirectory();
  const brokerFacingPort = await freePort();
  broker = await startBroker(directory, {
    policyFile: resolve('test/fixtures/policy/fab.yaml'),
    configure: (c) => {
      c.upstreams.prod = {
        audience: PROD_AUDIENCE,
        url: `http://127.0.0.1:${brokerFacingPort}`,
        credentials: { mode: 'trusted-jwks', jwt_audience: 'apache-airflow', identity: { auth_manager: 'fab' } },
      };
      // The same Airflow, misconfigured: its callers map to FAB users that Airflow may not create (Admin is not allow-listed).
      c.upstreams.staging = {
        audience: STAGING_AUDIENCE,
        url: `http://127.0.0.1:${brokerFacingPort}`,
        credentials: { mode: 'trusted-jwks', jwt_audience: 'apache-airflow', identity: { auth_manager: 'fab', subject: 'unprovisioned-{client_id}', fab_roles: { user: ['Admin'] } } },
      };
    },
  });
  const home = mkdtempSync(join(tmpdir(), 'atb-fab-home-'));
  // FAB users that exist before the broker's callers arrive: admin is user id 1.
  workers = await startAirflow({ home, scheduler: true, env: { ...fab, AIRFLOW_FAB_USERS: 'admin:Admin,svc-reporting:Viewer' }, timeoutMs: timeout });
  brokerFacing = await startAirflow({
    port: brokerFacingPort,
    home,
    sharesDatabase: true,
    timeoutMs: timeout,
    env: {
      ...fab,
      AIRFLOW__API_AUTH__TRUSTED_JWKS_URL: `${broker.url}/airflow/jwks.json`,
      AIRFLOW__API_AUTH__JWT_ALGORITHM: 'ES256',
      AIRFLOW__TOKEN_BROKER__FAB_PROVISION: 'True',
      AIRFLOW__TOKEN_BROKER__FAB_PROVISION_ROLES: 'Viewer, User',
    },
  });
}, timeout * 2);

afterAll(async () => {
  await broker?.close();
  await directory?.close();
  await brokerFacing?.stop();
  await workers?.stop();
}, timeout);

async function token(clientId: string, secret: string): Promise<string> {
  const res = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic(clientId, secret) });
  expect(res.status).toBe(200);
  return res.body.access_token as string;
}

/** A token the broker-facing Airflow trusts (signed with the broker's Airflow key), with any claims. */
async function signedByBroker(claims: JWTPayload & { sub: string }): Promise<string> {
  const key = broker.services.airflowKeys.signingKey()!;
  const jwt = await new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid })
    .setAudience('apache-airflow')
    .setIssuedAt()
    .setNotBefore('0s')
    .setExpirationTime('2m')
    .sign(key.privateKey);
  return `Bearer ${jwt}`;
}

/** FAB's own kind of token (`sub` = FAB user id, no `fab_username`): FAB user 1 is the admin. */
const asFabAdmin = () => signedByBroker({ sub: '1' });

async function airflowGet(server: AirflowServer, path: string, authorization: string) {
  const res = await fetch(`${server.url}${path}`, { headers: { authorization } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function fabRoles(username: string): Promise<string[] | number> {
  const res = await airflowGet(brokerFacing, `/auth/fab/v1/users/${encodeURIComponent(username)}`, await asFabAdmin());
  if (res.status !== 200) return res.status;
  return (res.body.roles as Array<{ name: string }>).map((r) => r.name).sort();
}

async function viaProxy(clientId: string, secret: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${broker.url}/airflow/prod/api/v2${path}`, {
    method,
    headers: { authorization: `Bearer ${await token(clientId, secret)}`, 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

it('tokens without fab_username go to FAB unchanged: FAB user id 1 is the admin', async () => {
  const res = await airflowGet(brokerFacing, '/auth/fab/v1/users/admin', await asFabAdmin());
  expect(res).toMatchObject({ status: 200, body: { username: 'admin', roles: [{ name: 'Admin' }] } });
});

it('fab-caller-provisioned-and-recorded: demo-etl becomes a FAB User, triggers etl_daily, Airflow audits demo-etl, the task runs', async () => {
  expect(await fabRoles('demo-etl')).toBe(404);
  const admin = await asFabAdmin();
  expect(await unpauseDag(brokerFacing, admin, 'etl_daily')).toBe(200);

  const res = await viaProxy('demo-etl', 'demo-etl-secret', 'POST', '/dags/etl_daily/dagRuns', { logical_date: null, dag_run_id: 'fab-1' });
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ dag_run_id: 'fab-1', triggering_user_name: 'demo-etl' });
  expect(await fabRoles('demo-etl')).toEqual(['User']);

  const { run, returnValue, eventLogs } = await finishedRun(brokerFacing, { dagId: 'etl_daily', runId: 'fab-1', taskId: 'extract', authorization: admin, timeoutMs: 180_000 });
  expect(run).toMatchObject({ state: 'success', triggering_user_name: 'demo-etl' });
  expect(returnValue).toBe('extracted'); // the task ran on the workers' API server's scheduler
  expect(eventLogs.filter((e) => e.event === 'trigger_dag_run' && e.run_id === 'fab-1').map((e) => e.owner)).toEqual(['demo-etl']);
}, timeout);

it('fab-permissions-beneath-policy: svc-reporting may trigger by policy, its FAB user is only a Viewer: Airflow refuses, roles unchanged', async () => {
  const read = await viaProxy('svc-reporting', 'svc-reporting-secret', 'GET', '/dags/report_weekly');
  expect(read).toMatchObject({ status: 200, body: { dag_id: 'report_weekly' } });
  const trigger = await viaProxy('svc-reporting', 'svc-reporting-secret', 'POST', '/dags/report_weekly/dagRuns', { logical_date: null });
  expect(trigger).toEqual({ status: 403, body: { detail: 'Forbidden' } });
  expect(await fabRoles('svc-reporting')).toEqual(['Viewer']); // the token asked for User: not re-provisioned
});

it('fab-provision-allow-list: claimed roles outside [token_broker] fab_provision_roles are never granted', async () => {
  const partly = await signedByBroker({ sub: 'mallory', fab_username: 'mallory', fab_roles: ['Admin', 'Viewer'] });
  expect((await airflowGet(brokerFacing, '/api/v2/dags', partly)).status).toBe(200);
  expect(await fabRoles('mallory')).toEqual(['Viewer']);

  const onlyAdmin = await signedByBroker({ sub: 'intruder', fab_username: 'intruder', fab_roles: ['Admin'] });
  expect(await airflowGet(brokerFacing, '/api/v2/dags', onlyAdmin)).toEqual({ status: 403, body: { detail: 'Invalid JWT token' } });
  expect(await fabRoles('intruder')).toBe(404);
});

it('fab-unknown-user-without-provisioning: Airflow answers 403 "Invalid JWT token" and creates nobody', async () => {
  const jwt = await new SignJWT({ fab_username: 'stranger', fab_roles: ['Viewer'] })
    .setProtectedHeader({ alg: 'HS512' })
    .setSubject('stranger')
    .setAudience('apache-airflow')
    .setIssuedAt()
    .setNotBefore('0s')
    .setExpirationTime('2m')
    .sign(new TextEncoder().encode(DEV_JWT_SECRET));
  expect(await airflowGet(workers, '/api/v2/dags', `Bearer ${jwt}`)).toEqual({ status: 403, body: { detail: 'Invalid JWT token' } });
  expect(await fabRoles('stranger')).toBe(404);
});

it('minted-token-refused: Airflow cannot turn the per-caller token into a user: 502 saying so, never Airflow\'s 403 as if the caller were forbidden', async () => {
  const res = await tokenRequest(broker, { grant_type: 'client_credentials', resource: STAGING_AUDIENCE }, { authorization: basic('demo-etl', 'demo-etl-secret') });
  expect(res.status).toBe(200);
  const call = await fetch(`${broker.url}/airflow/staging/api/v2/dags/etl_daily`, { headers: { authorization: `Bearer ${res.body.access_token as string}` } });
  expect(call.status).toBe(502);
  const minted = "Airflow did not accept the per-caller token the proxy minted: its trusted key set, audience or user mapping does not match the broker's";
  // `detail` too: Airflow's clients print that member (issue #11).
  expect(await call.json()).toEqual({ error: 'upstream_error', error_description: minted, detail: minted });
  expect(await fabRoles('unprovisioned-demo-etl')).toBe(404);
});
