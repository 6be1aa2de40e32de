import { resolve } from 'node:path';
import { readPolicyFile } from '../../src/policy/policy-file.js';
import { explainCall } from '../../src/admin/explain-call.js';
import { basic, tokenRequest } from '../helpers/broker-harness.js';
import { startBrokerBeforeStandIn, type StandInSetup } from '../helpers/recording-upstream.js';

/**
 * Backfills-hide-inside-trigger, through the proxy: the decision is made before anything reaches the upstream
 * (a recording stand-in: no acceptance test with the real Airflow covers backfills, and Airflow refuses to
 * backfill the demo DAGs, which have no schedule). `explain` must give the proxy's verdict for each call.
 */

const backfill = (dag: string) => ({ dag_id: dag, from_date: '2026-01-01T00:00:00Z', to_date: '2026-01-03T00:00:00Z' });

async function call(setup: StandInSetup, token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${setup.broker.url}/airflow/prod/api/v2${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function tokenOf(setup: StandInSetup, clientId: string): Promise<string> {
  const res = await tokenRequest(setup.broker, { grant_type: 'client_credentials' }, { authorization: basic(clientId, `${clientId}-secret`) });
  expect(res.status).toBe(200);
  return res.body.access_token as string;
}

/** The proxy's answer, what reached the upstream, and what `explain` says for the same roles. */
async function decided(setup: StandInSetup, policyFile: string, clientId: string, roles: string[], method: string, path: string, body?: unknown) {
  setup.upstream.reset();
  const res = await call(setup, await tokenOf(setup, clientId), method, path, body);
  const explained = await explainCall(readPolicyFile(policyFile), { roles, details: undefined }, { method, path: `/airflow/prod/api/v2${path}`, body });
  return { status: res.status, reason: res.body.reason, forwarded: setup.upstream.seen.map((s) => `${s.method} ${s.url}`), explained: [explained.verdict, explained.decision.reason] };
}

describe('policy version 2 through the proxy', () => {
  const policyFile = resolve('test/fixtures/policy/backfill-v2.yaml');
  let setup: StandInSetup;
  beforeAll(async () => {
    setup = await startBrokerBeforeStandIn({}, policyFile);
  });
  afterAll(() => setup.close());

  it('a role that may only trigger ml_train cannot create a backfill (v2)', async () => {
    for (const path of ['/backfills', '/backfills/dry_run']) {
      expect(await decided(setup, policyFile, 'demo-etl', ['ci-trigger'], 'POST', path, backfill('ml_train'))).toEqual({
        status: 403,
        reason: 'no-matching-grant',
        forwarded: [],
        explained: ['deny', 'no-matching-grant'],
      });
    }
  });

  it('the same role still triggers ml_train', async () => {
    expect(await decided(setup, policyFile, 'demo-etl', ['ci-trigger'], 'POST', '/dags/ml_train/dagRuns', { logical_date: null })).toEqual({
      status: 200,
      reason: undefined,
      forwarded: ['POST /api/v2/dags/ml_train/dagRuns'],
      explained: ['allow', 'grant-matched'],
    });
  });

  it('a role with `backfill` creates a backfill of ml_train, and may not trigger it', async () => {
    expect(await decided(setup, policyFile, 'svc-reporting', ['ml-backfill'], 'POST', '/backfills', backfill('ml_train'))).toEqual({
      status: 200,
      reason: undefined,
      forwarded: ['POST /api/v2/backfills'],
      explained: ['allow', 'grant-matched'],
    });
    expect(await decided(setup, policyFile, 'svc-reporting', ['ml-backfill'], 'POST', '/dags/ml_train/dagRuns', { logical_date: null })).toMatchObject({
      status: 403,
      forwarded: [],
      explained: ['deny', 'no-matching-grant'],
    });
  });
});

describe('policy version 1 (examples/policy.yaml) through the proxy, as before', () => {
  const policyFile = resolve('examples/policy.yaml');
  let setup: StandInSetup;
  beforeAll(async () => {
    setup = await startBrokerBeforeStandIn({}, policyFile);
  });
  afterAll(() => setup.close());

  it('etl-operator (trigger on etl_*) still creates a backfill of etl_daily, and still not of payroll_monthly', async () => {
    expect(await decided(setup, policyFile, 'demo-etl', ['etl-operator'], 'POST', '/backfills', backfill('etl_daily'))).toEqual({
      status: 200,
      reason: undefined,
      forwarded: ['POST /api/v2/backfills'],
      explained: ['allow', 'grant-matched'],
    });
    expect(await decided(setup, policyFile, 'demo-etl', ['etl-operator'], 'POST', '/backfills', backfill('payroll_monthly'))).toMatchObject({
      status: 403,
      forwarded: [],
      explained: ['deny', 'no-matching-grant'],
    });
  });
});
