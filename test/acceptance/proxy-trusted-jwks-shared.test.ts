import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { decodeProtectedHeader, importPKCS8, SignJWT, type JSONWebKeySet } from 'jose';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { writeAirflowOwnKey } from '../helpers/airflow-own-key.js';
import { airflowLogin, finishedRun, freePort, startAirflow, unpauseDag, type AirflowServer } from '../helpers/airflow-server.js';
import { basic, PROD_AUDIENCE, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';

/**
 * Set-up "shared API server" (docs/airflow.md): one API server serves the scheduler's workers, people (Airflow's
 * own login) and the broker. Airflow signs its own tokens (task tokens, logins) with an EC key
 * (`[api_auth] jwt_private_key_path`, `jwt_algorithm = ES256`, `jwt_kid`), and trusts only the broker's
 * `/airflow/jwks.json`, where the broker publishes that key's public half beside its own
 * (`keys.airflow_publish_also`).
 */

const timeout = 240_000;
const AIRFLOW_KID = 'airflow-own-1';
let airflow: AirflowServer;
let directory: DevDirectory;
let broker: Broker;
let secrets: string;
let airflowPrivatePem: string;

beforeAll(async () => {
  const ownKey = writeAirflowOwnKey();
  secrets = ownKey.dir;
  airflowPrivatePem = ownKey.privatePem;

  directory = await startDirectory();
  const airflowPort = await freePort();
  broker = await startBroker(directory, {
    policyFile: resolve('test/fixtures/policy/trusted-jwks.yaml'),
    configure: (c) => {
      c.keys = { ...c.keys, airflow_publish_also: [{ file: join(secrets, 'airflow-jwt-public.pem'), kid: AIRFLOW_KID }] };
      c.upstreams.prod = { audience: PROD_AUDIENCE, url: `http://127.0.0.1:${airflowPort}`, credentials: { mode: 'trusted-jwks' } };
    },
  });
  // The same [api_auth] for the API server and the scheduler (start.sh gives both the same environment).
  airflow = await startAirflow({
    port: airflowPort,
    scheduler: true,
    env: {
      AIRFLOW__API_AUTH__TRUSTED_JWKS_URL: `${broker.url}/airflow/jwks.json`,
      AIRFLOW__API_AUTH__JWT_ALGORITHM: 'ES256',
      AIRFLOW__API_AUTH__JWT_PRIVATE_KEY_PATH: join(secrets, 'airflow-jwt-private.pem'),
      // Airflow computes no kid for an EC key: without jwt_kid it cannot sign at all.
      AIRFLOW__API_AUTH__JWT_KID: AIRFLOW_KID,
    },
  });
}, timeout);

afterAll(async () => {
  await broker?.close();
  await directory?.close();
  await airflow?.stop();
  if (secrets) rmSync(secrets, { recursive: true, force: true });
}, timeout);

async function token(clientId: string, secret: string): Promise<string> {
  const res = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic(clientId, secret) });
  expect(res.status).toBe(200);
  return res.body.access_token as string;
}

async function adminAuthorization(): Promise<string> {
  const res = await airflowLogin(airflow, 'admin', 'admin-pass');
  expect(res.status).toBe(201);
  return `Bearer ${((await res.json()) as { access_token: string }).access_token}`;
}

it('the broker publishes Airflow\'s own public key beside its own Airflow key, never a private part', async () => {
  const jwks = (await (await fetch(`${broker.url}/airflow/jwks.json`)).json()) as JSONWebKeySet;
  const brokerKid = broker.services.airflowKeys.signingKey()!.kid;
  expect(jwks.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([brokerKid, AIRFLOW_KID]));
  expect(jwks.keys.some((k) => 'd' in k)).toBe(false);
});

it('own-login-500-with-trusted-jwks: Airflow\'s own login works again: POST /auth/token signs with Airflow\'s key, and the API server accepts that token', async () => {
  const res = await airflowLogin(airflow, 'viewer', 'viewer-pass');
  expect(res.status).toBe(201);
  const jwt = ((await res.json()) as { access_token: string }).access_token;
  expect(decodeProtectedHeader(jwt)).toMatchObject({ alg: 'ES256', kid: AIRFLOW_KID });
  const dags = await fetch(`${airflow.url}/api/v2/dags`, { headers: { authorization: `Bearer ${jwt}` } });
  expect(dags.status).toBe(200);
});

it('publishing is what makes Airflow\'s own tokens pass: the same key under a kid the broker does not publish is refused', async () => {
  const jwt = await new SignJWT({ role: 'admin' })
    .setProtectedHeader({ alg: 'ES256', kid: 'not-published' })
    .setSubject('admin')
    .setAudience('apache-airflow')
    .setIssuedAt()
    .setNotBefore('0s')
    .setExpirationTime('2m')
    .sign(await importPKCS8(airflowPrivatePem, 'ES256'));
  const res = await fetch(`${airflow.url}/api/v2/dags`, { headers: { authorization: `Bearer ${jwt}` } });
  expect(res.status).toBe(403);
});

it('runs-stay-running-with-trusted-jwks: a task triggered through the proxy runs to success on the same API server, recorded as demo-etl', async () => {
  const triggered = await fetch(`${broker.url}/airflow/prod/api/v2/dags/etl_daily/dagRuns`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await token('demo-etl', 'demo-etl-secret')}`, 'content-type': 'application/json' },
    body: JSON.stringify({ logical_date: null, dag_run_id: 'shared-1' }),
  });
  expect(triggered.status).toBe(200);
  const admin = await adminAuthorization();
  expect(await unpauseDag(airflow, admin, 'etl_daily')).toBe(200);
  const { run, returnValue, eventLogs } = await finishedRun(airflow, { dagId: 'etl_daily', runId: 'shared-1', taskId: 'extract', authorization: admin, timeoutMs: 150_000 });
  expect(run).toMatchObject({ state: 'success', triggering_user_name: 'demo-etl' });
  // The task really ran through a worker and the Task Execution API (task token signed with Airflow's key).
  expect(returnValue).toBe('extracted');
  expect(eventLogs.find((e) => e.event === 'trigger_dag_run' && e.run_id === 'shared-1')).toMatchObject({ owner: 'demo-etl' });
  expect(eventLogs.find((e) => e.event === 'patch_dag')).toMatchObject({ owner: 'admin' });
}, 200_000);
