import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { basic, PROD_AUDIENCE, STAGING_AUDIENCE, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';
import { RecordingUpstream } from '../helpers/recording-upstream.js';

/**
 * A policy that tells prod from staging (issue #9 item 4), through the real token endpoint (dev directory) and
 * the proxy with two upstreams configured. The decision happens before any upstream call, so each deployment is
 * a recording stand-in: the test asserts what each one received (nothing, for a refused call).
 */

const POLICY = `
version: 1
roles:
  etl-operator:
    allow:
      - dags: ["etl_*"]
        actions: [read]
      - dags: ["etl_*"]
        actions: [trigger]
        deployments: [prod]
  prod-operator:
    deployments: [prod]
    allow:
      - dags: ["*"]
        actions: [read, trigger, pause]
bindings:
  - role: etl-operator
    when: { groups: airflow-etl }
  - role: prod-operator
    when: { groups: airflow-etl }
  - role: prod-operator
    when: { client_id: svc-reporting }
`;

const TE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

let directory: DevDirectory;
let broker: Broker;
const airflow = { prod: new RecordingUpstream(), staging: new RecordingUpstream() };
const etl = { authorization: basic('demo-etl', 'demo-etl-secret') };
const reporting = { authorization: basic('svc-reporting', 'svc-reporting-secret') };

beforeAll(async () => {
  await airflow.prod.start();
  await airflow.staging.start();
  directory = await startDirectory();
  const policyFile = join(mkdtempSync(join(tmpdir(), 'atb-deployments-')), 'policy.yaml');
  writeFileSync(policyFile, POLICY);
  process.env.ATB_TEST_STANDIN_PASSWORD = 'stand-in-pass';
  const upstream = (audience: string, url: string) => ({
    audience,
    url,
    credentials: { mode: 'service-account' as const, username: 'proxy', password: '${ATB_TEST_STANDIN_PASSWORD}' },
  });
  broker = await startBroker(directory, {
    policyFile,
    configure: (c) => {
      c.upstreams = { prod: upstream(PROD_AUDIENCE, airflow.prod.url), staging: upstream(STAGING_AUDIENCE, airflow.staging.url) };
    },
  });
});
afterAll(async () => {
  await broker.close();
  await directory.close();
  airflow.prod.close();
  airflow.staging.close();
});
beforeEach(() => {
  airflow.prod.reset();
  airflow.staging.reset();
});

const tokenFor = async (resource: string, headers = etl, extra: Record<string, string> = {}) => {
  const res = await tokenRequest(broker, { grant_type: 'client_credentials', resource, ...extra }, headers);
  expect(res.status).toBe(200);
  return res.body;
};
const trigger = (deployment: 'prod' | 'staging', token: string) =>
  fetch(`${broker.url}/airflow/${deployment}/api/v2/dags/etl_daily/dagRuns`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ logical_date: null }),
  });

describe('the proxy on two deployments', () => {
  it('prod-only-grant-used-on-staging: the same call allowed on prod is refused on staging, before any upstream call', async () => {
    const prod = await tokenFor(PROD_AUDIENCE, etl, { scope: 'etl-operator' });
    const onProd = await trigger('prod', prod.access_token as string);
    expect(onProd.status).toBe(200);
    expect(airflow.prod.seen.map((r) => `${r.method} ${r.url}`)).toEqual(['POST /api/v2/dags/etl_daily/dagRuns']);

    const staging = await tokenFor(STAGING_AUDIENCE, etl, { scope: 'etl-operator' });
    const onStaging = await trigger('staging', staging.access_token as string);
    expect(onStaging.status).toBe(403);
    expect(await onStaging.json()).toMatchObject({ error: 'insufficient_scope', reason: 'grant-limited-to-other-deployments' });
    expect(airflow.staging.seen).toEqual([]);
    expect(broker.audit.decisions.at(-1)).toMatchObject({ deployment: 'staging', decision: 'deny', reason: 'grant-limited-to-other-deployments', rule: { role: 'etl-operator', effect: 'allow', index: 1 } });
  });

  it('a grant limited nowhere still applies on staging', async () => {
    const staging = await tokenFor(STAGING_AUDIENCE);
    const res = await fetch(`${broker.url}/airflow/staging/api/v2/dags/etl_daily`, { headers: { authorization: `Bearer ${staging.access_token as string}` } });
    expect(res.status).toBe(200);
    expect(airflow.staging.seen.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /api/v2/dags/etl_daily']);
  });
});

describe('issuance on a deployment', () => {
  it('staging-token-from-prod-only-role: a role that grants nothing on staging is left out of a staging token', async () => {
    expect((await tokenFor(PROD_AUDIENCE)).scope).toBe('etl-operator prod-operator');
    expect((await tokenFor(STAGING_AUDIENCE)).scope).toBe('etl-operator');
  });

  it('staging-token-from-prod-only-role: asking for it by name on staging is invalid_scope, naming it', async () => {
    const res = await tokenRequest(broker, { grant_type: 'client_credentials', resource: STAGING_AUDIENCE, scope: 'etl-operator prod-operator' }, etl);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_scope', error_description: 'grants nothing on deployment staging: prod-operator' });
  });

  it('staging-token-from-prod-only-role: an identity whose only role is prod-only gets no staging token (invalid_target)', async () => {
    const res = await tokenRequest(broker, { grant_type: 'client_credentials', resource: STAGING_AUDIENCE }, reporting);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_target', error_description: 'no role of this identity grants anything on deployment staging' });
    expect((await tokenFor(PROD_AUDIENCE, reporting)).scope).toBe('prod-operator');
  });

  it('staging-token-from-prod-only-role: token exchange refuses it the same way', async () => {
    const directoryToken = await fetch(`${directory.issuer}/token`, {
      method: 'POST',
      headers: { ...reporting, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    }).then(async (r) => ((await r.json()) as { access_token: string }).access_token);
    const exchange = (audience: string) => tokenRequest(broker, { grant_type: TE, subject_token: directoryToken, subject_token_type: ACCESS_TOKEN, audience });
    const staging = await exchange(STAGING_AUDIENCE);
    expect(staging.status).toBe(400);
    expect(staging.body).toEqual({ error: 'invalid_target', error_description: 'no role of this identity grants anything on deployment staging' });
    const prod = await exchange(PROD_AUDIENCE);
    expect(prod.status).toBe(200);
    expect(prod.body.scope).toBe('prod-operator');
  });

  it('authorization_details are checked against the grants of the target deployment', async () => {
    const details = JSON.stringify([{ type: 'airflow', dags: ['etl_daily'], actions: ['trigger'] }]);
    const staging = await tokenRequest(broker, { grant_type: 'client_credentials', resource: STAGING_AUDIENCE, authorization_details: details }, etl);
    expect(staging.status).toBe(400);
    expect(staging.body).toMatchObject({ error: 'invalid_authorization_details' });
    expect((await tokenRequest(broker, { grant_type: 'client_credentials', resource: PROD_AUDIENCE, authorization_details: details }, etl)).status).toBe(200);
  });
});

describe('deployment names against the configured upstreams', () => {
  it('deny-limited-to-misspelled-deployment: a reload naming an unknown deployment is refused, the last good policy stays', async () => {
    const file = join(broker.dir, 'policy.yaml');
    const good = readFileSync(file, 'utf8');
    const before = broker.services.policies.current().hash;
    // A deny on "prdo" would deny nothing on prod: the whole file is refused instead.
    writeFileSync(file, good.replace('  prod-operator:\n', '    deny:\n      - dags: ["etl_*"]\n        actions: [trigger]\n        deployments: [prdo]\n  prod-operator:\n'));
    try {
      const result = broker.services.policyReloader.reload('admin');
      expect(result).toMatchObject({ outcome: 'refused', problems: [expect.stringMatching(/policy\.yaml:\d+:\d+ error: roles\.etl-operator\.deny\[0\]\.deployments\[0\]: no upstream "prdo" in the config: did you mean "prod"\?$/)] });
      expect(broker.services.policies.current().hash).toBe(before);
    } finally {
      writeFileSync(file, good);
    }
  });
});

describe('decisions the proxy reuses (issue #13)', () => {
  const read = (token: string, dag: string) => fetch(`${broker.url}/airflow/prod/api/v2/dags/${dag}`, { headers: { authorization: `Bearer ${token}` } });
  /** Runs `during` under a reloaded policy that denies reading `etl_daily` to etl-operator, then restores the file. */
  const whileDailyReadsDenied = async (during: () => Promise<void>) => {
    const file = join(broker.dir, 'policy.yaml');
    const good = readFileSync(file, 'utf8');
    writeFileSync(file, good.replace('  etl-operator:\n', '  etl-operator:\n    deny:\n      - dags: ["etl_daily"]\n        actions: [read]\n'));
    try {
      expect(broker.services.policyReloader.reload('admin')).toMatchObject({ outcome: 'reloaded' });
      await during();
    } finally {
      writeFileSync(file, good);
      broker.services.policyReloader.reload('admin');
    }
  };

  it('decision-cache-policy-reload-through-the-proxy: the call allowed before a reload is refused right after one that denies it', async () => {
    const token = (await tokenFor(PROD_AUDIENCE, etl, { scope: 'etl-operator' })).access_token as string;
    expect((await read(token, 'etl_daily')).status).toBe(200);
    expect((await read(token, 'etl_daily')).status).toBe(200);
    // Another DAG in the same path shape is decided on its own id.
    expect((await read(token, 'payroll_monthly')).status).toBe(403);
    await whileDailyReadsDenied(async () => {
      const refused = await read(token, 'etl_daily');
      expect(refused.status).toBe(403);
      expect(await refused.json()).toMatchObject({ reason: 'deny-rule-matched' });
      expect(broker.audit.decisions.at(-1)).toMatchObject({ decision: 'deny', reason: 'deny-rule-matched', policy_hash: broker.services.policies.current().hash });
    });
    expect((await read(token, 'etl_daily')).status).toBe(200);
  });

  const narrowed = async (dags: string[]) =>
    (await tokenFor(PROD_AUDIENCE, etl, { scope: 'etl-operator', authorization_details: JSON.stringify([{ type: 'airflow', dags, actions: ['read'] }]) })).access_token as string;

  it('narrowed-token-decision-of-another-narrowed-token: a call decided for one narrowed token is decided afresh for another of the same scope', async () => {
    const daily = await narrowed(['etl_daily']);
    const weekly = await narrowed(['etl_weekly']);
    for (let i = 0; i < 2; i++) expect((await read(daily, 'etl_daily')).status).toBe(200);
    const refused = await read(weekly, 'etl_daily');
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ reason: 'outside-authorization-details' });
    expect((await read(weekly, 'etl_weekly')).status).toBe(200);
    // And the unnarrowed token of that scope is not held to either narrowing.
    const whole = (await tokenFor(PROD_AUDIENCE, etl, { scope: 'etl-operator' })).access_token as string;
    expect((await read(whole, 'etl_weekly')).status).toBe(200);
    expect((await read(whole, 'etl_daily')).status).toBe(200);
    expect((await read(daily, 'etl_weekly')).status).toBe(403);
  });

  it('narrowed-token-principal-policy-reload: a narrowed token used before a reload is held to the reloaded policy at once', async () => {
    const daily = await narrowed(['etl_daily']);
    for (let i = 0; i < 2; i++) expect((await read(daily, 'etl_daily')).status).toBe(200);
    await whileDailyReadsDenied(async () => {
      const refused = await read(daily, 'etl_daily');
      expect(refused.status).toBe(403);
      expect(await refused.json()).toMatchObject({ reason: 'deny-rule-matched' });
    });
    expect((await read(daily, 'etl_daily')).status).toBe(200);
  });
});
