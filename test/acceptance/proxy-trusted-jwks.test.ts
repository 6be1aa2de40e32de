import { resolve } from 'node:path';
import { decodeProtectedHeader, SignJWT, type JSONWebKeySet } from 'jose';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { freePort, startAirflow, type AirflowServer } from '../helpers/airflow-server.js';
import { basic, PROD_AUDIENCE, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';

/**
 * The proxy in `trusted-jwks` mode: Airflow 3 trusts the broker's Airflow key set (`[api_auth] trusted_jwks_url`)
 * and the proxy mints a short-lived token per caller, so Airflow itself knows who acted.
 */

const timeout = 240_000;
let airflow: AirflowServer;
let directory: DevDirectory;
let broker: Broker;

beforeAll(async () => {
  directory = await startDirectory();
  const airflowPort = await freePort();
  broker = await startBroker(directory, {
    policyFile: resolve('test/fixtures/policy/trusted-jwks.yaml'),
    configure: (c) => {
      c.upstreams.prod = {
        audience: PROD_AUDIENCE,
        url: `http://127.0.0.1:${airflowPort}`,
        credentials: { mode: 'trusted-jwks', jwt_audience: 'apache-airflow' },
      };
    },
  });
  airflow = await startAirflow({
    port: airflowPort,
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
}, timeout);

async function token(clientId: string, secret: string): Promise<string> {
  const res = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic(clientId, secret) });
  expect(res.status).toBe(200);
  return res.body.access_token as string;
}

/** An Airflow admin token signed with the broker's Airflow key: the only kind of token this Airflow trusts. */
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
  const res = await fetch(`${broker.url}/airflow/prod/api/v2/dags/etl_daily/dagRuns`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await token('demo-etl', 'demo-etl-secret')}`, 'content-type': 'application/json' },
    body: JSON.stringify({ logical_date: null, dag_run_id: 'trusted-1' }),
  });
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
