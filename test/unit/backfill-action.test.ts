import { explainCall } from '../../src/admin/explain-call.js';
import { apiVersions } from '../../src/airflow/api-versions.js';
import { airflowV2Operations } from '../../src/airflow/catalog/v2-operations.js';
import { compilePrincipal } from '../../src/policy/evaluator.js';
import { parsePolicy, readPolicyFile } from '../../src/policy/policy-file.js';
import type { Policy } from '../../src/policy/policy.js';
import { authorizeCall } from '../../src/proxy/authorize-call.js';

/**
 * Backfills-hide-inside-trigger (issue #9, item 6): policy version 2 gives backfills their own action, and
 * version 1 keeps deciding exactly as it always did (`trigger` creates backfills, `edit` pauses, unpauses and
 * cancels them).
 */

const catalog = apiVersions.v2.catalog;
/** Every backfill that the tests name belongs to etl_daily or ml_train, as the proxy would look it up at Airflow. */
const lookups = (dag: string) => ({ backfillDag: async () => dag });

const backfillCalls = (dag: string) =>
  [
    ['create_backfill', 'POST', '/backfills', { dag_id: dag, from_date: '2026-01-01T00:00:00Z', to_date: '2026-01-02T00:00:00Z' }],
    ['create_backfill_dry_run', 'POST', '/backfills/dry_run', { dag_id: dag, from_date: '2026-01-01T00:00:00Z', to_date: '2026-01-02T00:00:00Z' }],
    ['pause_backfill', 'PUT', '/backfills/7/pause', undefined],
    ['unpause_backfill', 'PUT', '/backfills/7/unpause', undefined],
    ['cancel_backfill', 'PUT', '/backfills/7/cancel', undefined],
  ] as const;

async function decisions(policy: Policy, roles: string[], dag: string): Promise<Record<string, string>> {
  const principal = compilePrincipal(policy, { roles, details: undefined }, 'prod');
  const out: Record<string, string> = {};
  for (const [name, method, apiPath, body] of backfillCalls(dag)) {
    const { matches, decision } = await authorizeCall(catalog, principal, { method, apiPath, query: new URLSearchParams(), body }, lookups(dag));
    expect(matches.map((m) => m.operation.name)).toEqual([name]);
    out[name] = decision.allowed ? 'allow' : `deny ${decision.reason}`;
  }
  return out;
}

const version1 = (actions: string) => parsePolicy('v1.yaml', `version: 1\nroles:\n  r:\n    allow:\n      - dags: [etl_daily]\n        actions: [${actions}]\n`);
const version2 = (actions: string) => parsePolicy('v2.yaml', `version: 2\nroles:\n  r:\n    allow:\n      - dags: [etl_daily]\n        actions: [${actions}]\n`);

const denied = 'deny no-matching-grant';

describe('the backfill operations need the dags action `backfill`', () => {
  test('every operation that creates, dry-runs, pauses, unpauses or cancels a backfill checks `backfill`; reading one stays `read`', () => {
    const backfillOps = airflowV2Operations.filter((op) => op.template.startsWith('/backfills'));
    const actions = Object.fromEntries(backfillOps.map((op) => [op.name, op.access === 'policy' ? op.action : op.access]));
    expect(actions).toEqual({
      list_backfills: 'read',
      create_backfill: 'backfill',
      create_backfill_dry_run: 'backfill',
      get_backfill: 'read',
      pause_backfill: 'backfill',
      unpause_backfill: 'backfill',
      cancel_backfill: 'backfill',
    });
  });
});

describe('policy version 2', () => {
  test('test/fixtures/policy/version-2.yaml is a valid policy', () => {
    expect(readPolicyFile('test/fixtures/policy/version-2.yaml').document.version).toBe(2);
  });

  test('a role that may only trigger ml_train cannot create a backfill (v2)', async () => {
    const policy = readPolicyFile('test/fixtures/policy/backfill-v2.yaml');
    const each = (verdict: string) => Object.fromEntries(backfillCalls('ml_train').map(([name]) => [name, verdict]));
    expect(await decisions(policy, ['ci-trigger'], 'ml_train')).toEqual(each(denied));
    expect(await decisions(policy, ['ml-backfill'], 'ml_train')).toEqual(each('allow'));
  });

  test('`trigger` and `edit` no longer cover backfills; `backfill` covers only backfills', async () => {
    const each = (verdict: string) => Object.fromEntries(backfillCalls('etl_daily').map(([name]) => [name, verdict]));
    expect(await decisions(version2('trigger, edit'), ['r'], 'etl_daily')).toEqual(each(denied));
    expect(await decisions(version2('backfill'), ['r'], 'etl_daily')).toEqual(each('allow'));
    const trigger = await authorizeCall(catalog, compilePrincipal(version2('backfill'), { roles: ['r'], details: undefined }, 'prod'), {
      method: 'POST',
      apiPath: '/dags/etl_daily/dagRuns',
      query: new URLSearchParams(),
      body: { logical_date: null },
    }, lookups('etl_daily'));
    expect(trigger.decision).toMatchObject({ allowed: false, reason: 'no-matching-grant' });
  });

  test('a deny of `backfill` wins over an allow of it; a deny of `trigger` no longer touches backfills', async () => {
    const deny = (actions: string) =>
      parsePolicy('d.yaml', `version: 2\nroles:\n  r:\n    allow:\n      - dags: ["*"]\n        actions: [trigger, backfill]\n    deny:\n      - dags: [etl_daily]\n        actions: [${actions}]\n`);
    expect(Object.values(await decisions(deny('backfill'), ['r'], 'etl_daily'))).toEqual(Array(5).fill('deny deny-rule-matched'));
    expect(Object.values(await decisions(deny('trigger'), ['r'], 'etl_daily'))).toEqual(Array(5).fill('allow'));
  });

  test('RFC 9396 narrowing to `trigger` does not reach backfills under version 2', async () => {
    const principal = compilePrincipal(version2('trigger, backfill'), { roles: ['r'], details: [{ type: 'airflow', dags: ['etl_daily'], actions: ['trigger'] }] }, 'prod');
    const body = { dag_id: 'etl_daily', from_date: '2026-01-01T00:00:00Z', to_date: '2026-01-02T00:00:00Z' };
    const { decision } = await authorizeCall(catalog, principal, { method: 'POST', apiPath: '/backfills', query: new URLSearchParams(), body }, lookups('etl_daily'));
    expect(decision).toMatchObject({ allowed: false, reason: 'outside-authorization-details' });
  });
});

describe('policy version 1 decides backfills exactly as before', () => {
  const asBefore = { create_backfill: 'allow', create_backfill_dry_run: 'allow', pause_backfill: denied, unpause_backfill: denied, cancel_backfill: denied };

  test('examples/policy.yaml: etl-operator (read, trigger, clear) creates backfills of etl_* but cannot pause, unpause or cancel them', async () => {
    const example = readPolicyFile('examples/policy.yaml');
    expect(await decisions(example, ['etl-operator'], 'etl_daily')).toEqual(asBefore);
    expect(Object.values(await decisions(example, ['etl-operator'], 'payroll_monthly'))).toEqual(Array(5).fill(denied));
    expect(Object.values(await decisions(example, ['reporting-reader'], 'report_weekly'))).toEqual(Array(5).fill(denied));
  });

  test('`trigger` creates and dry-runs, `edit` pauses, unpauses and cancels, `backfill` alone does all five', async () => {
    expect(await decisions(version1('trigger'), ['r'], 'etl_daily')).toEqual(asBefore);
    expect(await decisions(version1('edit'), ['r'], 'etl_daily')).toEqual({ create_backfill: denied, create_backfill_dry_run: denied, pause_backfill: 'allow', unpause_backfill: 'allow', cancel_backfill: 'allow' });
    expect(Object.values(await decisions(version1('backfill'), ['r'], 'etl_daily'))).toEqual(Array(5).fill('allow'));
  });

  test('a version-1 deny of `trigger` still denies creating a backfill', async () => {
    const policy = parsePolicy('d.yaml', 'version: 1\nroles:\n  r:\n    allow:\n      - dags: ["*"]\n        actions: [trigger]\n    deny:\n      - dags: [etl_daily]\n        actions: [trigger]\n');
    expect((await decisions(policy, ['r'], 'etl_daily')).create_backfill).toBe('deny deny-rule-matched');
  });

  test('explain says which action version 1 also accepts, and version 2 does not', async () => {
    const call = { method: 'POST', path: '/backfills', body: { dag_id: 'etl_daily', from_date: '2026-01-01T00:00:00Z', to_date: '2026-01-02T00:00:00Z' } };
    const v1 = await explainCall(readPolicyFile('examples/policy.yaml'), { roles: ['etl-operator'], details: undefined }, call);
    expect(v1.verdict).toBe('allow');
    expect(v1.notes).toContain('policy version 1: create_backfill needs backfill or trigger (version 2: backfill only)');
    const v2 = await explainCall(version2('trigger'), { roles: ['r'], details: undefined }, call);
    expect(v2.verdict).toBe('deny');
    expect(v2.notes.filter((n) => n.startsWith('policy version'))).toEqual([]);
  });

  test('RFC 9396 narrowing to `trigger` still reaches backfill creation under version 1', async () => {
    const principal = compilePrincipal(readPolicyFile('examples/policy.yaml'), { roles: ['etl-operator'], details: [{ type: 'airflow', dags: ['etl_daily'], actions: ['trigger'] }] }, 'prod');
    const body = { dag_id: 'etl_daily', from_date: '2026-01-01T00:00:00Z', to_date: '2026-01-02T00:00:00Z' };
    const { decision } = await authorizeCall(catalog, principal, { method: 'POST', apiPath: '/backfills', query: new URLSearchParams(), body }, lookups('etl_daily'));
    expect(decision).toMatchObject({ allowed: true, reason: 'grant-matched' });
  });
});
