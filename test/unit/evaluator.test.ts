import type { PolicyOperation } from '../../src/airflow/catalog/operation.js';
import { ALL, compilePrincipal, evaluateCheck, type Principal } from '../../src/policy/evaluator.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { decide, permits } from '../../src/proxy/authorize.js';
import type { ResolvedOperation } from '../../src/proxy/resolve-checks.js';

/** Policy in, verdict and reasons out. */
const policy = parsePolicy(
  'policy.yaml',
  `
version: 1
roles:
  etl-operator:
    allow:
      - dags: ["etl_*"]
        actions: [read, trigger, clear]
      - variables: ["etl_*"]
        actions: [read, write]
  auditor:
    allow:
      - dags: ["*"]
        actions: [read]
      - views: [config, event_logs]
        actions: [read]
    deny:
      - dags: ["payroll_*"]
        actions: [read]
  admin:
    allow:
      - dags: ["*"]
        actions: [read, trigger, pause]
`,
);

const who = (roles: string[], details?: Principal['details']) => compilePrincipal(policy, { roles, details }, undefined);
const check = (resource: 'dags' | 'variables' | 'views', action: string, id: string) => ({ resource, action: action as 'read', id });

describe('evaluateCheck', () => {
  it('allows what a grant covers, naming the grant', () => {
    const v = evaluateCheck(who(['etl-operator']), check('dags', 'trigger', 'etl_daily'));
    expect(v).toMatchObject({ allowed: true, reason: 'grant-matched', rule: { role: 'etl-operator', effect: 'allow', index: 0, patterns: ['etl_*'] } });
  });

  it('denies by default', () => {
    expect(evaluateCheck(who(['etl-operator']), check('dags', 'trigger', 'payroll_monthly'))).toMatchObject({ allowed: false, reason: 'no-matching-grant', rule: undefined });
    expect(evaluateCheck(who(['etl-operator']), check('dags', 'delete', 'etl_daily')).reason).toBe('no-matching-grant');
    expect(evaluateCheck(who(['etl-operator']), check('variables', 'delete', 'etl_x')).reason).toBe('no-matching-grant');
    expect(evaluateCheck(who([]), check('dags', 'read', 'etl_daily')).reason).toBe('no-matching-grant');
  });

  it('a role that no longer exists grants nothing', () => {
    expect(evaluateCheck(who(['ghost']), check('dags', 'read', 'etl_daily')).allowed).toBe(false);
  });

  it('deny wins over an allow of the same role', () => {
    const v = evaluateCheck(who(['auditor']), check('dags', 'read', 'payroll_monthly'));
    expect(v).toMatchObject({ allowed: false, reason: 'deny-rule-matched', rule: { role: 'auditor', effect: 'deny', index: 0 } });
  });

  it('deny of one role wins over an allow of another', () => {
    expect(evaluateCheck(who(['admin', 'auditor']), check('dags', 'read', 'payroll_monthly')).reason).toBe('deny-rule-matched');
  });

  it('ALL needs a grant covering everything', () => {
    expect(evaluateCheck(who(['etl-operator']), check('dags', 'read', ALL)).allowed).toBe(false);
    expect(evaluateCheck(who(['admin']), check('dags', 'read', ALL)).allowed).toBe(true);
    // a deny on part of the kind takes something away from "all"
    expect(evaluateCheck(who(['auditor']), check('dags', 'read', ALL)).reason).toBe('deny-rule-matched');
  });

  it('narrowing by authorization_details can only remove', () => {
    const narrowed = who(['etl-operator'], [{ type: 'airflow', dags: ['etl_daily'], actions: ['trigger'] }]);
    expect(evaluateCheck(narrowed, check('dags', 'trigger', 'etl_daily')).allowed).toBe(true);
    expect(evaluateCheck(narrowed, check('dags', 'trigger', 'etl_hourly')).reason).toBe('outside-authorization-details');
    expect(evaluateCheck(narrowed, check('dags', 'read', 'etl_daily')).reason).toBe('outside-authorization-details');
  });

  it('views are named ids', () => {
    expect(evaluateCheck(who(['auditor']), check('views', 'read', 'config')).allowed).toBe(true);
    expect(evaluateCheck(who(['auditor']), check('views', 'read', 'jobs')).allowed).toBe(false);
  });
});

describe('decide', () => {
  const op = (over: Partial<PolicyOperation> = {}): PolicyOperation => ({
    name: 'get_dags',
    method: 'GET',
    template: '/dags',
    access: 'policy',
    resource: 'dags',
    action: 'read',
    ids: { from: 'all' },
    list: { itemsKey: 'dags', idField: 'dag_id' },
    ...over,
  });
  const listAll = (o = op()): ResolvedOperation => ({ operation: o, kind: 'checks', checks: [{ resource: 'dags', action: 'read', id: ALL }], listAll: true });

  it('unknown operation: denied', () => {
    expect(decide(who(['admin']), [])).toMatchObject({ allowed: false, reason: 'unknown-operation' });
  });

  it('never-proxied operation: denied even for admin', () => {
    expect(decide(who(['admin']), [{ operation: { name: 'login', method: 'GET', template: '/auth/login', access: 'never' }, kind: 'never' }]).reason).toBe('operation-not-proxied');
  });

  it('unresolved ids: denied', () => {
    expect(decide(who(['admin']), [{ operation: op(), kind: 'unresolved', why: 'x' }]).reason).toBe('resource-id-unresolved');
  });

  it('a list the token sees only part of is filtered, and the filter applies grants, denies and narrowing', () => {
    const d = decide(who(['auditor']), [listAll()]);
    expect(d).toMatchObject({ allowed: true, reason: 'list-filtered' });
    const p = who(['auditor']);
    expect(permits(p, op(), 'etl_daily')).toBe(true);
    expect(permits(p, op(), 'payroll_monthly')).toBe(false);
  });

  it('a refused check on a second resource is not turned into a filtered list', () => {
    const queued = op({ name: 'get_asset_queued_events' });
    const r: ResolvedOperation = {
      operation: queued,
      kind: 'checks',
      checks: [
        { resource: 'dags', action: 'read', id: ALL },
        { resource: 'assets', action: 'read', id: '7' },
      ],
      listAll: true,
    };
    // auditor may see some DAGs (a filtered list alone would pass) but no asset: the asset check must deny.
    const d = decide(who(['auditor']), [r]);
    expect(d.allowed).toBe(false);
    expect(d.filter).toBeUndefined();
    expect(d.verdicts.find((v) => v.check.resource === 'assets')).toMatchObject({ allowed: false, reason: 'no-matching-grant' });
  });

  it('a list the token sees entirely is not filtered', () => {
    expect(decide(who(['admin']), [listAll()])).toMatchObject({ allowed: true, reason: 'grant-matched', filter: undefined });
  });

  it('a list of a kind the token has no grant on is refused', () => {
    const vars = op({ name: 'get_connections', resource: 'variables', action: 'delete' });
    const r: ResolvedOperation = { operation: vars, kind: 'checks', checks: [{ resource: 'variables', action: 'delete', id: ALL }], listAll: true };
    expect(decide(who(['etl-operator']), [r])).toMatchObject({ allowed: false, reason: 'no-matching-grant' });
  });

  it('every interpretation of an ambiguous path must be allowed', () => {
    const a: ResolvedOperation = { operation: op({ list: undefined }), kind: 'checks', checks: [{ resource: 'dags', action: 'read', id: 'etl_daily' }], listAll: false };
    const b: ResolvedOperation = { operation: op({ list: undefined }), kind: 'checks', checks: [{ resource: 'dags', action: 'read', id: 'payroll_monthly' }], listAll: false };
    expect(decide(who(['etl-operator']), [a]).allowed).toBe(true);
    expect(decide(who(['etl-operator']), [a, b])).toMatchObject({ allowed: false, reason: 'no-matching-grant' });
  });

  it('a bulk request is allowed only if every entity is', () => {
    const r: ResolvedOperation = {
      operation: op({ list: undefined }),
      kind: 'checks',
      checks: [
        { resource: 'variables', action: 'write', id: 'etl_a' },
        { resource: 'variables', action: 'write', id: 'payroll_secret' },
      ],
      listAll: false,
    };
    const d = decide(who(['etl-operator']), [r]);
    expect(d).toMatchObject({ allowed: false, reason: 'no-matching-grant' });
    expect(d.verdicts.map((v) => v.allowed)).toEqual([true, false]);
  });
});

describe('grants limited to deployments', () => {
  const limited = parsePolicy(
    'limited.yaml',
    `
version: 1
roles:
  staging-tester:
    deployments: [staging]
    allow:
      - dags: ["*"]
        actions: [read, trigger]
  etl-operator:
    deny:
      - dags: ["etl_secret"]
        actions: [read]
        deployments: [staging]
    allow:
      - dags: ["etl_*"]
        actions: [trigger]
        deployments: [prod]
      - dags: ["etl_*"]
        actions: [read]
`,
  );
  const on = (deployment: string | undefined, roles = ['etl-operator']) => compilePrincipal(limited, { roles, details: undefined }, deployment);

  it('a grant applies on the deployments it names', () => {
    expect(evaluateCheck(on('prod'), check('dags', 'trigger', 'etl_daily'))).toMatchObject({ allowed: true, reason: 'grant-matched', rule: { role: 'etl-operator', index: 0 } });
  });

  it('prod-only-grant-used-on-staging: neither allows, and the reason names the grant limited elsewhere', () => {
    expect(evaluateCheck(on('staging'), check('dags', 'trigger', 'etl_daily'))).toMatchObject({
      allowed: false,
      reason: 'grant-limited-to-other-deployments',
      rule: { role: 'etl-operator', effect: 'allow', index: 0, deployments: ['prod'] },
    });
    // Where no grant would match on any deployment, it stays the plain default deny.
    expect(evaluateCheck(on('staging'), check('dags', 'trigger', 'payroll'))).toMatchObject({ allowed: false, reason: 'no-matching-grant', rule: undefined });
  });

  it('a deny limited to another deployment does not deny', () => {
    expect(evaluateCheck(on('prod'), check('dags', 'read', 'etl_secret'))).toMatchObject({ allowed: true, reason: 'grant-matched' });
    expect(evaluateCheck(on('staging'), check('dags', 'read', 'etl_secret'))).toMatchObject({ allowed: false, reason: 'deny-rule-matched', rule: { deployments: ['staging'] } });
  });

  it('the compiled principal names the roles that apply on its deployment (what may lend an airflow_role there)', () => {
    expect(on('prod', ['etl-operator', 'staging-tester']).rolesHere).toEqual(['etl-operator']);
    expect(on('staging', ['etl-operator', 'staging-tester']).rolesHere).toEqual(['etl-operator', 'staging-tester']);
  });

  it('a role limited to staging limits every grant of it', () => {
    expect(evaluateCheck(on('staging', ['staging-tester']), check('dags', 'trigger', 'x')).allowed).toBe(true);
    expect(evaluateCheck(on('prod', ['staging-tester']), check('dags', 'trigger', 'x')).reason).toBe('grant-limited-to-other-deployments');
  });

  it('with no deployment named, a limited grant never applies; unlimited ones do', () => {
    expect(evaluateCheck(on(undefined), check('dags', 'trigger', 'etl_daily')).reason).toBe('grant-limited-to-other-deployments');
    expect(evaluateCheck(on(undefined), check('dags', 'read', 'etl_daily')).allowed).toBe(true);
  });

  it('a list is filtered only through the grants of this deployment', () => {
    const listAll: ResolvedOperation = {
      operation: { name: 'get_dags', method: 'GET', template: '/dags', access: 'policy', resource: 'dags', action: 'trigger', ids: { from: 'all' }, list: { itemsKey: 'dags', idField: 'dag_id' } },
      kind: 'checks',
      checks: [{ resource: 'dags', action: 'trigger', id: ALL }],
      listAll: true,
    };
    expect(decide(on('prod'), [listAll]).reason).toBe('list-filtered');
    expect(decide(on('staging'), [listAll])).toMatchObject({ allowed: false, reason: 'grant-limited-to-other-deployments' });
  });
});
