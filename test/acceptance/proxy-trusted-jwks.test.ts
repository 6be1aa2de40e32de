import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { decodeProtectedHeader, SignJWT, type JSONWebKeySet } from 'jose';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { airflowLogin, finishedRun, freePort, startAirflow, unpauseDag, type AirflowServer } from '../helpers/airflow-server.js';
import { basic, PROD_AUDIENCE, STAGING_AUDIENCE, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';

/**
 * The proxy in `trusted-jwks` mode: Airflow 3 trusts the broker's Airflow key set (`[api_auth] trusted_jwks_url`)
 * and the proxy mints a short-lived token per caller, so Airflow itself knows who acted.
 *
 * Set-up "dedicated API server for the broker" (docs/airflow.md): API server 1 serves the scheduler, its workers
 * (`[core] execution_api_server_url`) and people, with Airflow's own `jwt_secret` and default algorithm; API
 * server 2, on the same database, is the broker's upstream and trusts only the broker's key set (ES256). A task
 * triggered through the proxy runs to success with server 2 stopped: workers never need it.
 */

const timeout = 240_000;
const BY_EMAIL_AUDIENCE = 'https://airflow.by-email.example';
let workers: AirflowServer; // API server 1: scheduler, workers, people
let airflow: AirflowServer; // API server 2: the broker's upstream
let home: string;
let directory: DevDirectory;
let broker: Broker;

beforeAll(async () => {
  directory = await startDirectory();
  const [workersPort, brokerPort] = [await freePort(), await freePort()];
  const upstream = `http://127.0.0.1:${brokerPort}`;
  broker = await startBroker(directory, {
    policyFile: resolve('test/fixtures/policy/trusted-jwks.yaml'),
    configure: (c) => {
      c.upstreams.prod = { audience: PROD_AUDIENCE, url: upstream, credentials: { mode: 'trusted-jwks', jwt_audience: 'apache-airflow' } };
      // The same Airflow, callers named differently: by a template over their claims, and by a claim they lack.
      c.upstreams.staging = { audience: STAGING_AUDIENCE, url: upstream, credentials: { mode: 'trusted-jwks', identity: { subject: 'svc:{client_id}' } } };
      c.upstreams['by-email'] = { audience: BY_EMAIL_AUDIENCE, url: upstream, credentials: { mode: 'trusted-jwks', identity: { subject: '{email}' } } };
    },
  });
  home = mkdtempSync(join(tmpdir(), 'atb-airflow-'));
  // Airflow's own signing stays on jwt_secret (HS512): what the scheduler signs task tokens with, and what
  // server 1 validates them (and its own logins) with.
  workers = await startAirflow({ port: workersPort, home, scheduler: true });
  airflow = await startAirflow({
    port: brokerPort,
    home,
    sharesDatabase: true,
    env: {
      AIRFLOW__API_AUTH__TRUSTED_JWKS_URL: `${broker.url}/airflow/jwks.json`,
      AIRFLOW__API_AUTH__JWT_ALGORITHM: 'ES256',
    },
  });
}, timeout);

afterAll(async () => {
  await broker?.close();
  await directory?.close();
  await airflow?.stop();
  await workers?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
}, timeout);

async function token(clientId: string, secret: string, resource = PROD_AUDIENCE): Promise<string> {
  const res = await tokenRequest(broker, { grant_type: 'client_credentials', resource }, { authorization: basic(clientId, secret) });
  expect(res.status).toBe(200);
  return res.body.access_token as string;
}

/** An Airflow admin token signed with the broker's Airflow key: the only kind of token server 2 trusts. */
async function asAdmin(path: string) {
  const key = broker.services.airflowKeys.signingKey()!;
  const jwt = await new SignJWT({ role: 'admin' })
    .setProtectedHeader({ alg: key.alg, kid: key.kid })
    .setSubject('test-admin')
    .setAudience('apache-airflow')
    .setIssuedAt()
    .setNotBefore('0s')
    .setExpirationTime('2m')
    .sign(key.privateKey);
  const res = await fetch(`${airflow.url}/api/v2${path}`, { headers: { authorization: `Bearer ${jwt}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

/** Airflow's own login on server 1 (SimpleAuthManager, dev password): what people use in this set-up. */
async function workersAdmin(): Promise<string> {
  const res = await airflowLogin(workers, 'admin', 'admin-pass');
  expect(res.status).toBe(201);
  return `Bearer ${((await res.json()) as { access_token: string }).access_token}`;
}

async function trigger(runId: string, accessToken: string, deployment = 'prod') {
  return fetch(`${broker.url}/airflow/${deployment}/api/v2/dags/etl_daily/dagRuns`, {
    method: 'POST',
    headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ logical_date: null, dag_run_id: runId }),
  });
}

it('publishes an Airflow key set separate from the client-token keys', async () => {
  const airflowJwks = (await (await fetch(`${broker.url}/airflow/jwks.json`)).json()) as JSONWebKeySet;
  const clientJwks = (await (await fetch(`${broker.url}/oauth2/jwks`)).json()) as JSONWebKeySet;
  expect(airflowJwks.keys.length).toBeGreaterThan(0);
  const clientKids = new Set(clientJwks.keys.map((k) => k.kid));
  expect(airflowJwks.keys.every((k) => !clientKids.has(k.kid) && k.alg === 'ES256' && !('d' in k))).toBe(true);
});

it('Airflow refuses our client tokens directly: only the minted per-caller tokens pass', async () => {
  const clientToken = await token('demo-etl', 'demo-etl-secret');
  const res = await fetch(`${airflow.url}/api/v2/dags`, { headers: { authorization: `Bearer ${clientToken}` } });
  expect(res.status).toBe(403);
  expect(decodeProtectedHeader(clientToken).typ).toBe('at+jwt');
});

it('demo-etl triggers etl_daily and Airflow records demo-etl as the triggering user', async () => {
  const res = await trigger('trusted-1', await token('demo-etl', 'demo-etl-secret'));
  expect(res.status).toBe(200);
  const runs = await asAdmin('/dags/etl_daily/dagRuns');
  expect((runs.dag_runs as Array<{ dag_run_id: string; triggering_user_name: string }>).find((r) => r.dag_run_id === 'trusted-1')).toMatchObject({
    triggering_user_name: 'demo-etl',
  });
});

it('the policy still decides first: payroll_monthly is refused before Airflow is asked', async () => {
  const res = await fetch(`${broker.url}/airflow/prod/api/v2/dags/payroll_monthly/dagRuns`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await token('demo-etl', 'demo-etl-secret')}`, 'content-type': 'application/json' },
    body: JSON.stringify({ logical_date: null }),
  });
  expect(res.status).toBe(403);
});

it('a caller whose roles map to no Airflow role gets no Airflow token', async () => {
  const res = await fetch(`${broker.url}/airflow/prod/api/v2/dags/report_weekly`, {
    headers: { authorization: `Bearer ${await token('svc-reporting', 'svc-reporting-secret')}` },
  });
  expect(res.status).toBe(403);
  expect((await res.json()) as Record<string, unknown>).toMatchObject({ error: 'insufficient_scope' });
});

it('lists are filtered in this mode too', async () => {
  const res = await fetch(`${broker.url}/airflow/prod/api/v2/dags`, { headers: { authorization: `Bearer ${await token('demo-etl', 'demo-etl-secret')}` } });
  const body = (await res.json()) as { dags: Array<{ dag_id: string }>; total_entries: number };
  expect(body.dags.map((d) => d.dag_id).sort()).toEqual(['etl_daily', 'etl_hourly']);
  expect(body.total_entries).toBe(2);
});

it('server 2 trusts only the broker\'s key set: a token from Airflow\'s own login on server 1 is refused there', async () => {
  const res = await fetch(`${airflow.url}/api/v2/dags`, { headers: { authorization: await workersAdmin() } });
  expect(res.status).toBe(403);
  const ok = await fetch(`${workers.url}/api/v2/dags`, { headers: { authorization: await workersAdmin() } });
  expect(ok.status).toBe(200);
});

it('identity.subject svc:{client_id}: Airflow records the name the template makes of the caller\'s claims', async () => {
  const res = await trigger('named-1', await token('demo-etl', 'demo-etl-secret', STAGING_AUDIENCE), 'staging');
  expect(res.status).toBe(200);
  const run = await asAdmin('/dags/etl_daily/dagRuns/named-1');
  expect(run).toMatchObject({ triggering_user_name: 'svc:demo-etl' });
});

it('identity-claim-missing: a template naming a claim the token lacks is a 403 naming the claim, and Airflow is not asked', async () => {
  const res = await trigger('unnamed-1', await token('demo-etl', 'demo-etl-secret', BY_EMAIL_AUDIENCE), 'by-email');
  expect(res.status).toBe(403);
  const body = (await res.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ error: 'insufficient_scope', reason: 'identity-claim-missing' });
  expect(body.error_description).toContain('the token has no claim "email"');
  const runs = await asAdmin('/dags/etl_daily/dagRuns');
  expect((runs.dag_runs as Array<{ dag_run_id: string }>).map((r) => r.dag_run_id)).not.toContain('unnamed-1');
});

// Last: it stops server 2.
it('runs-stay-running-with-trusted-jwks: a task triggered through the proxy runs to success on the scheduler and workers of server 1, recorded as demo-etl; workers never need server 2', async () => {
  // New DAGs are paused: the run waits, queued, until server 2 is gone.
  expect((await trigger('task-1', await token('demo-etl', 'demo-etl-secret'))).status).toBe(200);
  await airflow.stop();
  const admin = await workersAdmin();
  expect(await unpauseDag(workers, admin, 'etl_daily')).toBe(200);
  const { run, returnValue, eventLogs } = await finishedRun(workers, { dagId: 'etl_daily', runId: 'task-1', taskId: 'extract', authorization: admin, timeoutMs: 150_000 });
  expect(run).toMatchObject({ state: 'success', triggering_user_name: 'demo-etl' });
  // The task really ran (an EmptyOperator would be marked success without a worker): its return value is in XCom.
  expect(returnValue).toBe('extracted');
  // Airflow's audit log names the caller of the proxied calls, and the person who unpaused on server 1.
  expect(eventLogs.find((e) => e.event === 'trigger_dag_run' && e.run_id === 'task-1')).toMatchObject({ owner: 'demo-etl' });
  expect(eventLogs.find((e) => e.event === 'trigger_dag_run' && e.run_id === 'named-1')).toMatchObject({ owner: 'svc:demo-etl' });
  expect(eventLogs.find((e) => e.event === 'patch_dag')).toMatchObject({ owner: 'admin' });
}, 200_000);
