import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { BindingSubject } from '../../src/policy/policy.js';
import { parsePolicy, readPolicyFile } from '../../src/policy/policy-file.js';
import { locatedProblems } from '../helpers/located-problems.js';

const fixture = (name: string) => resolve('test/fixtures/policy', name);

const identity = (overrides: Partial<BindingSubject>): BindingSubject => ({
  directory: 'corp',
  subject: 'alice',
  clientId: 'cli',
  groups: [],
  claims: {},
  ...overrides,
});

const problemsOf = (name: string) => locatedProblems(() => parsePolicy(name, readFileSync(fixture(name), 'utf8')));

describe('examples/policy.yaml', () => {
  const policy = readPolicyFile('examples/policy.yaml');

  test('loads with the roles and grants it spells out', () => {
    expect([...policy.roles.keys()]).toEqual(['etl-operator', 'reporting-reader']);
    const etl = policy.roles.get('etl-operator')!;
    expect(etl.tokenTtlMs).toBe(600_000);
    expect(etl.grants.map((g) => [g.kind, g.patterns.map((p) => p.source), [...g.actions]])).toEqual([
      ['dags', ['etl_*'], ['read', 'trigger', 'clear']],
      ['variables', ['etl_*'], ['read', 'write']],
      ['dags', ['etl_*'], ['read_logs']],
    ]);
    expect(policy.roles.get('reporting-reader')!.grants[0]!.patterns.map((p) => p.source)).toEqual(['report_*', 'finance_daily']);
  });

  test('binds by group and by client id', () => {
    expect(policy.rolesFor(identity({ groups: ['airflow-etl'] }))).toEqual(['etl-operator']);
    expect(policy.rolesFor(identity({ clientId: 'svc-reporting' }))).toEqual(['reporting-reader']);
    expect(policy.rolesFor(identity({ clientId: 'svc-reporting', groups: ['other', 'airflow-etl'] }))).toEqual([
      'etl-operator',
      'reporting-reader',
    ]);
    expect(policy.rolesFor(identity({ groups: ['airflow'] }))).toEqual([]);
  });

  test('is named by the hash of its bytes', () => {
    expect(policy.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(parsePolicy('copy.yaml', `${readFileSync('examples/policy.yaml', 'utf8')}\n`).hash).not.toBe(policy.hash);
  });
});

describe('bindings match exactly', () => {
  const policy = readPolicyFile(fixture('bindings.yaml'));

  test.each([
    ['another case', 'Airflow-ETL'],
    ['a leading space', ' airflow-etl'],
    ['a trailing space', 'airflow-etl '],
    ['a decomposed (NFD) é for the composed one', 'e\u0301quipe-etl'],
    ['a prefix', 'airflow-et'],
  ])('a group differing by %s does not bind', (_, group) => {
    expect(policy.rolesFor(identity({ groups: [group] }))).toEqual([]);
  });

  test('the composed é as written binds', () => {
    expect(policy.rolesFor(identity({ groups: ['\u00e9quipe-etl'] }))).toEqual(['equipe']);
  });

  test('list values are alternatives', () => {
    expect(policy.rolesFor(identity({ clientId: 'svc-finance' }))).toEqual(['reporting-reader']);
    expect(policy.rolesFor(identity({ clientId: 'svc-reporting' }))).toEqual(['reporting-reader']);
  });

  test('several when keys must all hold', () => {
    expect(policy.rolesFor(identity({ directory: 'partner', groups: ['airflow-sre'] }))).toEqual(['ops-prod']);
    expect(policy.rolesFor(identity({ directory: 'corp', groups: ['airflow-ops'] }))).toEqual(['ops-prod']);
    expect(policy.rolesFor(identity({ directory: 'lab', groups: ['airflow-ops'] }))).toEqual([]);
    expect(policy.rolesFor(identity({ directory: 'corp', groups: ['airflow-etl'] }))).toEqual(['etl-operator']);
  });

  test('a subject or client id equal to a bound group value does not bind', () => {
    expect(policy.rolesFor(identity({ subject: 'airflow-etl', clientId: 'airflow-etl' }))).toEqual([]);
  });
});

describe('bindings on claim paths (when.claims)', () => {
  const policy = readPolicyFile(fixture('claims.yaml'));
  const withClaims = (claims: Record<string, unknown>, overrides: Partial<BindingSubject> = {}) => policy.rolesFor(identity({ claims, ...overrides }));

  test('realm-roles-cannot-be-bound: a Keycloak realm role binds through /realm_access/roles', () => {
    expect(withClaims({ realm_access: { roles: ['offline_access', 'airflow-etl'] } })).toEqual(['etl-operator']);
  });

  test('realm-roles-cannot-be-bound: a client role binds through /resource_access/airflow/roles, any listed value', () => {
    expect(withClaims({ resource_access: { airflow: { roles: ['auditor'] } } })).toEqual(['reporting-reader']);
    expect(withClaims({ resource_access: { airflow: { roles: ['reader'] }, other: { roles: ['airflow-etl'] } } })).toEqual(['reporting-reader']);
  });

  test('a URL-named claim binds through its escaped pointer', () => {
    expect(withClaims({ 'https://example.com/roles': ['audit'] })).toEqual(['auditor']);
    expect(withClaims({ 'https://example.com/roles': 'audit' })).toEqual(['auditor']);
  });

  test('other values, other places and other shapes bind nothing', () => {
    expect(withClaims({ realm_access: { roles: ['airflow-etl-admin', 'Airflow-ETL'] } })).toEqual([]);
    expect(withClaims({ resource_access: { other: { roles: ['reader'] } } })).toEqual([]);
    expect(withClaims({ roles: ['airflow-etl'], 'realm_access.roles': ['airflow-etl'] })).toEqual([]);
    expect(withClaims({ realm_access: { roles: { airflow: 'airflow-etl' } } })).toEqual([]);
    expect(withClaims({ realm_access: { roles: [['airflow-etl']] } })).toEqual([]);
    expect(withClaims({ realm_access: ['airflow-etl'] })).toEqual([]);
    // groups are the directory's groups claim, not a claim path.
    expect(policy.rolesFor(identity({ groups: ['airflow-etl', 'reader'] }))).toEqual([]);
  });

  test('every pointer of a binding and its other conditions must hold', () => {
    const ops = { realm_access: { roles: ['airflow-ops'] }, tenant: 'acme' };
    expect(withClaims(ops, { directory: 'corp' })).toEqual(['ops-prod']);
    expect(withClaims(ops, { directory: 'lab' })).toEqual([]);
    expect(withClaims({ ...ops, tenant: 'other' }, { directory: 'corp' })).toEqual([]);
    expect(withClaims({ realm_access: ops.realm_access }, { directory: 'corp' })).toEqual([]);
  });

  test('a key that is not a JSON Pointer never matches, even the claim it names', () => {
    const invalid = parsePolicy(
      'invalid-pointers.yaml',
      [
        'version: 1',
        'roles: { dotted: {}, bad-escape: {}, valid: {} }',
        'bindings:',
        '  - { role: dotted, when: { claims: { "realm_access.roles": airflow-etl } } }',
        '  - { role: bad-escape, when: { claims: { "/a~2": x } } }',
        '  - { role: valid, when: { claims: { "/a~02": x } } }',
        '',
      ].join('\n'),
    );
    const claims = { 'realm_access.roles': ['airflow-etl'], realm_access: { roles: ['airflow-etl'] }, 'a~2': 'x', a: 'x' };
    expect(invalid.rolesFor(identity({ claims }))).toEqual(['valid']);
  });

  test('an empty claims map is no condition', () => {
    expect(problemsOf('empty-claims.yaml')).toEqual(['empty-claims.yaml:6:11 error: bindings[0].when: a binding needs at least one condition']);
  });
});

describe('a broken policy is refused with every problem located', () => {
  test.each<[string, string[]]>([
    [
      'unknown-action.yaml',
      ['unknown-action.yaml:6:34 error: roles.etl-operator.allow[0].actions[2]: unknown action "write" for dags (allowed: read, read_logs, read_code, read_xcom, write_xcom, trigger, backfill, clear, pause, edit, delete)'],
    ],
    [
      'two-resource-kinds.yaml',
      ['two-resource-kinds.yaml:5:9 error: roles.etl-operator.allow[0]: a grant names exactly one of dags, variables, connections, pools, assets, views, users, roles (found dags, variables)'],
    ],
    [
      'no-resource-kind.yaml',
      ['no-resource-kind.yaml:5:9 error: roles.etl-operator.allow[0]: a grant names exactly one of dags, variables, connections, pools, assets, views, users, roles (found none)'],
    ],
    ['undefined-role.yaml', ['undefined-role.yaml:10:11 error: bindings[1].role: binding to undefined role "etl-operators"']],
    ['empty-when.yaml', ['empty-when.yaml:9:11 error: bindings[0].when: a binding needs at least one condition']],
    ['version-3.yaml', ['version-3.yaml:1:10 error: version: Invalid input: expected 1 or 2']],
    ['bad-token-ttl.yaml', ['bad-token-ttl.yaml:4:16 error: roles.etl-operator.token_ttl: "10 minutes" is not a duration (use e.g. 30s, 10m, 1h)']],
    // Regression: the role check used `in`, so a binding to `toString` passed as if the role existed.
    ['binding-to-prototype-member.yaml', ['binding-to-prototype-member.yaml:9:11 error: bindings[0].role: binding to undefined role "toString"']],
    // Regression: the role check only ran on an otherwise valid policy, so it hid behind any other mistake.
    [
      'several-problems.yaml',
      [
        'several-problems.yaml:4:16 error: roles.etl-operator.token_ttl: "10 minutes" is not a duration (use e.g. 30s, 10m, 1h)',
        'several-problems.yaml:7:25 error: roles.etl-operator.allow[0].actions[1]: unknown action "run" for dags (allowed: read, read_logs, read_code, read_xcom, write_xcom, trigger, backfill, clear, pause, edit, delete)',
        'several-problems.yaml:9:5 error: bindings[0].when: missing required key',
        'several-problems.yaml:10:5 error: bindings[0].wehn: unknown key',
        'several-problems.yaml:11:11 error: bindings[1].role: binding to undefined role "etl-operators"',
      ],
    ],
  ])('%s', (name, expected) => {
    expect(problemsOf(name)).toEqual(expected);
  });
});

describe('deployments', () => {
  test('a grant outside its role\'s deployments, an empty list, a repeated or ill-formed name are located errors', () => {
    expect(problemsOf('bad-deployments.yaml')).toEqual([
      'bad-deployments.yaml:10:22 error: roles.etl-operator.allow[1].deployments: an empty list would limit to no deployment: leave deployments out to mean every deployment',
      'bad-deployments.yaml:13:23 error: roles.etl-operator.allow[2].deployments[0]: use lower-case letters, digits, "-" and "_"',
      'bad-deployments.yaml:13:22 error: roles.etl-operator.allow[2].deployments: a deployment is named twice',
    ]);
  });

  test('a grant on a deployment its role excludes never applies, so it is refused', () => {
    const text = 'version: 1\nroles:\n  etl:\n    deployments: [staging]\n    deny:\n      - dags: ["etl_*"]\n        actions: [read]\n        deployments: [staging, prod]\nbindings: []\n';
    expect(locatedProblems(() => parsePolicy('p.yaml', text))).toEqual([
      'p.yaml:8:32 error: roles.etl.deny[0].deployments[1]: the role is limited to staging, so a grant on "prod" never applies',
    ]);
  });

  test('deployment-name-misspelled: with the configured upstreams, an unknown name is refused, suggesting the closest', () => {
    const text = readFileSync(fixture('deployments.yaml'), 'utf8');
    expect(locatedProblems(() => parsePolicy('d.yaml', text, { upstreams: ['prod', 'staging'] }))).toEqual([
      'd.yaml:14:23 error: roles.etl-operator.deny[0].deployments[0]: no upstream "prdo" in the config: did you mean "prod"?',
      'd.yaml:16:28 error: roles.staging-tester.deployments[1]: no upstream "qa" in the config (upstreams: prod, staging)',
    ]);
    expect(() => parsePolicy('d.yaml', text, { upstreams: ['prod', 'staging', 'prdo', 'qa'] })).not.toThrow();
    // Without the config the names cannot be checked here (policy check says so).
    expect(() => parsePolicy('d.yaml', text)).not.toThrow();
  });

  test('rolesOn keeps the roles that grant something on a deployment', () => {
    const policy = parsePolicy('d.yaml', readFileSync(fixture('deployments.yaml'), 'utf8'));
    expect(policy.rolesOn(['etl-operator', 'staging-tester'], 'prod')).toEqual(['etl-operator']);
    expect(policy.rolesOn(['etl-operator', 'staging-tester'], 'staging')).toEqual(['etl-operator', 'staging-tester']);
    const prodOnly = parsePolicy('p.yaml', 'version: 1\nroles:\n  ops:\n    allow:\n      - dags: ["*"]\n        actions: [read]\n        deployments: [prod]\n  plain: {}\nbindings: []\n');
    expect(prodOnly.rolesOn(['ops', 'plain'], 'staging')).toEqual(['plain']);
    expect(prodOnly.rolesOn(['ops', 'plain'], 'prod')).toEqual(['ops', 'plain']);
  });
});
