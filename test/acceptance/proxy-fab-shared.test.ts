import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { decodeJwt } from 'jose';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { writeAirflowOwnKey, type AirflowOwnKey } from '../helpers/airflow-own-key.js';
import { airflowLogin, finishedRun, freePort, startAirflow, unpauseDag, type AirflowServer } from '../helpers/airflow-server.js';
import { basic, PROD_AUDIENCE, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';

/**
 * The FAB companion in the set-up "shared API server" (docs/airflow.md): one API server serves the scheduler's
 * workers, FAB's own password logins and the broker. Airflow signs its tokens with its own EC key, whose public
 * half the broker publishes beside its own Airflow key (`keys.airflow_publish_also`); FAB users logging in
 * themselves and the broker's callers (found by `fab_username`) use the same API server.
 */

const timeout = 240_000;
const AIRFLOW_KID = 'airflow-own-fab-1';
let airflow: AirflowServer;
let directory: DevDirectory;
let broker: Broker;
let ownKey: AirflowOwnKey;

beforeAll(async () => {
  ownKey = writeAirflowOwnKey();

  directory = await startDirectory();
  const airflowPort = await freePort();
  broker = await startBroker(directory, {
    policyFile: resolve('test/fixtures/policy/fab.yaml'),
    configure: (c) => {
      c.keys = { ...c.keys, airflow_publish_also: [{ file: ownKey.publicKeyFile, kid: AIRFLOW_KID }] };
      c.upstreams.prod = {
        audience: PROD_AUDIENCE,
        url: `http://127.0.0.1:${airflowPort}`,
        credentials: { mode: 'trusted-jwks', identity: { auth_manager: 'fab' } },
      };
    },
  });
  airflow = await startAirflow({
    port: airflowPort,
    scheduler: true,
    timeoutMs: timeout,
    env: {
      AIRFLOW_AUTH_MANAGER: 'fab',
      AIRFLOW_FAB_USERS: 'admin:Admin',
      AIRFLOW__API_AUTH__TRUSTED_JWKS_URL: `${broker.url}/airflow/jwks.json`,
      AIRFLOW__API_AUTH__JWT_ALGORITHM: 'ES256',
      AIRFLOW__API_AUTH__JWT_PRIVATE_KEY_PATH: ownKey.privateKeyFile,
      AIRFLOW__API_AUTH__JWT_KID: AIRFLOW_KID,
      AIRFLOW__TOKEN_BROKER__FAB_PROVISION: 'True',
      AIRFLOW__TOKEN_BROKER__FAB_PROVISION_ROLES: 'User',
    },
  });
}, timeout);

afterAll(async () => {
  await broker?.close();
  await directory?.close();
  await airflow?.stop();
  if (ownKey) rmSync(ownKey.dir, { recursive: true, force: true });
}, timeout);

async function fabAdmin(): Promise<string> {
  const res = await airflowLogin(airflow, 'admin', 'admin-pass');
  expect(res.status).toBe(201);
  return `Bearer ${((await res.json()) as { access_token: string }).access_token}`;
}

it('FAB\'s own password login keeps working beside the broker\'s callers: its token names the FAB user id', async () => {
  const admin = await fabAdmin();
  expect(decodeJwt(admin.slice('Bearer '.length))).toMatchObject({ sub: '1' });
  expect(decodeJwt(admin.slice('Bearer '.length)).fab_username).toBeUndefined();
  const res = await fetch(`${airflow.url}/auth/fab/v1/users/admin`, { headers: { authorization: admin } });
  expect(res.status).toBe(200);
});

it('a task triggered through the proxy by a provisioned FAB user runs to success on the same API server', async () => {
  const token = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('demo-etl', 'demo-etl-secret') });
  expect(token.status).toBe(200);
  const triggered = await fetch(`${broker.url}/airflow/prod/api/v2/dags/etl_daily/dagRuns`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token.body.access_token as string}`, 'content-type': 'application/json' },
    body: JSON.stringify({ logical_date: null, dag_run_id: 'fab-shared-1' }),
  });
  expect(triggered.status).toBe(200);
  const admin = await fabAdmin();
  expect(await unpauseDag(airflow, admin, 'etl_daily')).toBe(200);
  const { run, returnValue, eventLogs } = await finishedRun(airflow, { dagId: 'etl_daily', runId: 'fab-shared-1', taskId: 'extract', authorization: admin, timeoutMs: 150_000 });
  expect(run).toMatchObject({ state: 'success', triggering_user_name: 'demo-etl' });
  expect(returnValue).toBe('extracted');
  expect(eventLogs.find((e) => e.event === 'trigger_dag_run' && e.run_id === 'fab-shared-1')).toMatchObject({ owner: 'demo-etl' });
  expect(eventLogs.find((e) => e.event === 'patch_dag')).toMatchObject({ owner: 'admin' });
  const user = await fetch(`${airflow.url}/auth/fab/v1/users/demo-etl`, { headers: { authorization: admin } });
  expect(((await user.json()) as { roles: Array<{ name: string }> }).roles).toEqual([{ name: 'User' }]);
}, 200_000);
