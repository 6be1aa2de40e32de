import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SignJWT } from 'jose';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { freePort, startAirflow, type AirflowServer } from '../helpers/airflow-server.js';
import { basic, PROD_AUDIENCE, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';
import { runCli as cli } from '../helpers/run-cli.js';

/**
 * Regression (issue #9, item 5): `policy check --airflow` on a trusted-jwks deployment signed its viewer token with
 * the Airflow private key, so CI had to hold a key that can mint Airflow admin tokens. Against a real Airflow 3
 * trusting the broker's Airflow key set: a read-only credential is enough, with a config that has no key at all.
 */

const timeout = 240_000;
const POLICY = 'test/fixtures/policy/policy-check-ci.yaml';
let airflow: AirflowServer;
let directory: DevDirectory;
let broker: Broker;
/** The broker's own config (its keys directories hold the Airflow private key). */
let withKeys: string;
/** The same config alone in an empty directory: no key of any set can be read from it. */
let keyless: string;

beforeAll(async () => {
  directory = await startDirectory();
  const airflowPort = await freePort();
  broker = await startBroker(directory, {
    policyFile: resolve(POLICY),
    configure: (c) => {
      c.upstreams.prod = { audience: PROD_AUDIENCE, url: `http://127.0.0.1:${airflowPort}`, credentials: { mode: 'trusted-jwks', jwt_audience: 'apache-airflow' } };
    },
  });
  airflow = await startAirflow({
    port: airflowPort,
    env: { AIRFLOW__API_AUTH__TRUSTED_JWKS_URL: `${broker.url}/airflow/jwks.json`, AIRFLOW__API_AUTH__JWT_ALGORITHM: 'ES256' },
  });
  withKeys = join(broker.dir, 'config.yaml');
  keyless = join(mkdtempSync(join(tmpdir(), 'atb-ci-')), 'config.yaml');
  copyFileSync(withKeys, keyless);
}, timeout);

afterAll(async () => {
  await broker?.close();
  await directory?.close();
  await airflow?.stop();
}, timeout);

const checkedLive = `${POLICY}: ok (2 roles, 2 bindings, DAGs checked against upstream prod, 2 warnings)\n`;
const noMlTrain = new RegExp(`^${POLICY.replaceAll('.', '\\.')}:8:\\d+ warning: roles\\.etl-operator\\.allow\\[0\\]\\.dags\\[1\\]: "ml_train" matches no DAG of upstream "prod" \\(\\d+ DAGs\\)$`, 'm');
const signs = /Airflow private key/;

it('--broker-token-env: the DAG list through the broker proxy, with the access token of a read-only client', async () => {
  const res = await tokenRequest(broker, { grant_type: 'client_credentials', scope: 'policy-ci' }, { authorization: basic('svc-reporting', 'svc-reporting-secret') });
  expect(res.status).toBe(200);
  const before = broker.audit.decisions.length;
  const out = await cli(['policy', 'check', POLICY, '--airflow', 'prod', '--config', keyless, '--broker-token-env', 'ATB_CI_TOKEN'], { env: { ATB_CI_TOKEN: res.body.access_token as string } });
  expect(out).toMatchObject({ code: 0, stdout: checkedLive });
  expect(out.stderr).toMatch(noMlTrain);
  expect(out.stderr).not.toMatch(signs);
  // It went through the proxy as the CI client, and the proxy called Airflow as that client's viewer.
  expect(broker.audit.decisions.slice(before)).toContainEqual(expect.objectContaining({ client_id: 'svc-reporting', decision: 'allow', deployment: 'prod' }));
});

it('--airflow-token-env: the DAG list straight from Airflow with a read-only Airflow token', async () => {
  // A viewer token Airflow trusts; CI would get it from whoever holds the key, the test signs it here.
  const key = broker.services.airflowKeys.signingKey()!;
  const viewer = await new SignJWT({ role: 'viewer' }).setProtectedHeader({ alg: key.alg, kid: key.kid }).setSubject('ci-policy-check').setAudience('apache-airflow').setIssuedAt().setNotBefore('0s').setExpirationTime('2m').sign(key.privateKey);
  const out = await cli(['policy', 'check', POLICY, '--airflow', 'prod', '--config', keyless, '--airflow-token-env', 'ATB_CI_AIRFLOW_TOKEN'], { env: { ATB_CI_AIRFLOW_TOKEN: viewer } });
  expect(out).toMatchObject({ code: 0, stdout: checkedLive });
  expect(out.stderr).not.toMatch(/^error/m);
  expect(out.stderr).toMatch(noMlTrain);
  expect(out.stderr).not.toMatch(signs);
});

it("the config's own credentials still work, and say on stderr that they sign with the Airflow private key", async () => {
  const out = await cli(['policy', 'check', POLICY, '--airflow', 'prod', '--config', withKeys]);
  expect(out).toMatchObject({ code: 0, stdout: checkedLive });
  expect(out.stderr).toMatch(noMlTrain);
  expect(out.stderr).toContain(`--airflow: signing a viewer token for upstream "prod" with the Airflow private key in ${join(broker.dir, 'keys', 'airflow')}`);
});

it('a token that Airflow or the broker refuses is an error naming the upstream, never a pass', async () => {
  const out = await cli(['policy', 'check', POLICY, '--airflow', 'prod', '--config', keyless, '--broker-token-env', 'ATB_CI_TOKEN'], { env: { ATB_CI_TOKEN: 'not-a-token' } });
  expect(out.code).toBe(1);
  expect(out.stderr).toMatch(/^error: --airflow: could not list the DAGs of upstream "prod": /m);
  expect(out.stdout).toBe('');
});
