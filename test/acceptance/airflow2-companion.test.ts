import type { AirflowServer } from '../helpers/airflow-server.js';
import { companionAirflow2Timeout as timeout, startCompanionAirflow2, triggerOwners, v1 as call } from '../helpers/companion-airflow2.js';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { basic, PROD_AUDIENCE, STAGING_AUDIENCE, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';

/**
 * The companion's Airflow 2 auth backend (`airflow_token_broker.airflow2_auth`, companions/) on a real Airflow 2.11
 * webserver, in the set-up "tokens trusted directly": clients call `/api/v1` with their broker access token
 * (`typ: at+jwt`, the broker's own `/oauth2/jwks`), the companion maps `sub` to the FAB user of that name, and FAB's
 * permissions of that user decide (the policy file does not apply without the proxy). `basic_auth` and `session`
 * stay after the companion in `[api] auth_backends`.
 */

let airflow: AirflowServer;
let directory: DevDirectory;
let broker: Broker;

beforeAll(async () => {
  directory = await startDirectory();
  broker = await startBroker(directory);
  airflow = await startCompanionAirflow2(
    { jwks_url: `${broker.url}/oauth2/jwks`, issuer: broker.url, audience: PROD_AUDIENCE, token_type: 'at+jwt', username_claim: 'sub' },
    // demo-etl is a FAB User; svc-reporting (also a client of the directory) has no FAB user.
    { fabUsers: 'admin:Admin,proxy:Op,viewer:Viewer,demo-etl:User' },
  );
}, timeout);

afterAll(async () => {
  await broker?.close();
  await directory?.close();
  await airflow?.stop();
}, timeout);

async function accessToken(clientId: string, secret: string): Promise<string> {
  const res = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic(clientId, secret) });
  expect(res.status).toBe(200);
  return res.body.access_token as string;
}

function v1(path: string, authorization?: string, init: RequestInit = {}): Promise<Response> {
  return call(airflow, path, authorization, init);
}

async function dagIds(res: Response): Promise<string[]> {
  const body = (await res.json()) as { dags: { dag_id: string }[] };
  return body.dags.map((d) => d.dag_id).sort();
}

describe('Airflow 2.11 trusting broker access tokens through the companion backend', () => {
  it("a client's broker access token lists DAGs as the FAB user it maps to: FAB's permissions, not the policy, decide", async () => {
    const res = await v1('/dags', `Bearer ${await accessToken('demo-etl', 'demo-etl-secret')}`);
    expect(res.status).toBe(200);
    // FAB's User role reads every DAG; through the proxy the example policy would show demo-etl only etl_*.
    expect(await dagIds(res)).toEqual(['etl_daily', 'etl_hourly', 'payroll_monthly', 'report_weekly']);
  });

  it('Airflow records the mapped FAB user as the actor of a write', async () => {
    const token = await accessToken('demo-etl', 'demo-etl-secret');
    const runId = `companion-${Date.now()}`;
    const trigger = await v1('/dags/etl_daily/dagRuns', `Bearer ${token}`, { method: 'POST', body: JSON.stringify({ dag_run_id: runId }) });
    expect(trigger.status).toBe(200);
    expect(await triggerOwners(airflow, 'etl_daily')).toContain('demo-etl');
  });

  it('a caller without a FAB user is refused with 403 insufficient_scope (provisioning is off)', async () => {
    const res = await v1('/dags', `Bearer ${await accessToken('svc-reporting', 'svc-reporting-secret')}`);
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toBe('insufficient_scope');
  });

  it('a bad token is 401 invalid_token with WWW-Authenticate, a short JSON body and no stack trace', async () => {
    const token = await accessToken('demo-etl', 'demo-etl-secret');
    const [header, payload, signature] = token.split('.');
    const forged = `${header}.${payload}.${signature!.startsWith('A') ? 'B' : 'A'}${signature!.slice(1)}`;
    const res = await v1('/dags', `Bearer ${forged}`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
    expect(res.headers.get('content-type')).toBe('application/json');
    const text = await res.text();
    expect(Object.keys(JSON.parse(text) as object).sort()).toEqual(['error', 'error_description']);
    expect(text).not.toContain(forged);
    expect(text).not.toMatch(/Traceback|File "/);
  });

  it("a token for another deployment of the broker is refused (aud)", async () => {
    const res = await tokenRequest(broker, { grant_type: 'client_credentials', resource: STAGING_AUDIENCE }, { authorization: basic('demo-etl', 'demo-etl-secret') });
    expect(res.status).toBe(200);
    const answer = await v1('/dags', `Bearer ${res.body.access_token as string}`);
    expect(answer.status).toBe(401);
    expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
  });

  it('no bearer token falls through to basic_auth', async () => {
    const res = await v1('/dags', basic('viewer', 'viewer-pass'));
    expect(res.status).toBe(200);
    expect(await dagIds(res)).toHaveLength(4);
    // A wrong password is refused as Airflow 2.11 refuses it without the companion: every backend declines, FAB's
    // default AUTH_ROLE_PUBLIC (Public, no permissions) takes over, and the permission check answers 403.
    const refused = await v1('/dags', basic('viewer', 'wrong-pass'));
    expect(refused.status).toBe(403);
    expect(refused.headers.get('content-type')).toBe('application/problem+json');
  });

  it("no credentials at all: Airflow's own answer, as without the companion (FAB's Public role, no access: 403)", async () => {
    const res = await v1('/dags');
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
  });
});
