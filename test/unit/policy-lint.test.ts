import { readFileSync } from 'node:fs';
import { formatProblem } from '../../src/config/yaml-source.js';
import { parsePolicySource } from '../../src/policy/policy-file.js';
import { lintPolicy, type LiveDags } from '../../src/policy/policy-lint.js';

/** Policy in, located warnings out. Each warnings fixture is paired with every message it must produce. */
const warningsOf = (file: string, live?: LiveDags) => {
  const { policy, source } = parsePolicySource(file, readFileSync(file, 'utf8'));
  return lintPolicy(policy, source, live).map(formatProblem);
};

const version1Hint = (roles: string) =>
  `version 1: "trigger" also creates backfills (over any date range) and "edit" also pauses, unpauses and cancels them (roles ${roles}); ` +
  'to give backfills their own action write "version: 2" and add "backfill" to the dags grants that should keep them (policy diff shows what changes)';

const fixture = (name: string) => `test/fixtures/policy/warnings/${name}`;

describe('policy lint', () => {
  test.each<[string, string[]]>([
    ['unbound-role.yaml', ['unbound-role.yaml:8:3 warning: roles.auditor: no binding names this role, so no token can carry it']],
    [
      'shadowed-grant.yaml',
      [
        `shadowed-grant.yaml:1:1 warning: version: ${version1Hint('etl-operator')}`,
        'shadowed-grant.yaml:8:9 warning: roles.etl-operator.allow[1]: shadowed by allow[0], which already allows every action here on every id it names',
        'shadowed-grant.yaml:11:9 warning: roles.etl-operator.allow[2]: shadowed by allow[0], which already allows every action here on every id it names',
        'shadowed-grant.yaml:20:9 warning: roles.etl-operator.allow[5]: shadowed by allow[4], which already allows every action here on every id it names',
        'shadowed-grant.yaml:23:17 warning: roles.etl-operator.allow[6].pools[0]: "etl_pool" is already covered by "etl_*" in the same grant',
      ],
    ],
    [
      'ineffective-deny.yaml',
      [
        `ineffective-deny.yaml:1:1 warning: version: ${version1Hint('etl-operator')}`,
        'ineffective-deny.yaml:12:9 warning: roles.etl-operator.deny[1]: no role allows any of these actions on these ids, so this deny takes nothing away',
        'ineffective-deny.yaml:15:9 warning: roles.etl-operator.deny[2]: no role allows any of these actions on these ids, so this deny takes nothing away',
        'ineffective-deny.yaml:19:9 warning: roles.auditor.allow[0]: covers every view: role auditor may read any view, reached by bindings[1] (groups: airflow-audit)',
      ],
    ],
    [
      'every-resource.yaml',
      [
        `every-resource.yaml:1:1 warning: version: ${version1Hint('platform-operator')}`,
        'every-resource.yaml:6:9 warning: roles.platform-operator.allow[0]: covers every DAG: role platform-operator may read, trigger any DAG, reached by bindings[0] (groups: airflow-platform), bindings[1] (client_id: svc-deploy, svc-ci)',
        'every-resource.yaml:8:9 warning: roles.platform-operator.allow[1]: covers every pool: role platform-operator may read any pool, reached by bindings[0] (groups: airflow-platform), bindings[1] (client_id: svc-deploy, svc-ci)',
        'every-resource.yaml:20:9 warning: roles.viewer.allow[0]: covers every view: role viewer may read any view, reached by bindings[2] (groups: everyone; subject: alice)',
      ],
    ],
    [
      'claim-paths.yaml',
      [
        'claim-paths.yaml:9:23 warning: bindings[0].when.claims.realm_access.roles: "realm_access.roles" is not a JSON Pointer, so this condition never matches: did you mean "/realm_access/roles"?',
        'claim-paths.yaml:13:9 warning: bindings[1].when.claims.roles: "roles" is not a JSON Pointer, so this condition never matches: did you mean "/roles"?',
        'claim-paths.yaml:14:9 warning: bindings[1].when.claims./realm_access.roles: "/realm_access.roles" reads the top-level claim named "realm_access.roles"; for the nested claim write "/realm_access/roles"',
        'claim-paths.yaml:15:9 warning: bindings[1].when.claims./a~2b: "/a~2b" is not a valid RFC 6901 JSON Pointer (write "~" as ~0 and "/" as ~1), so this condition never matches',
      ],
    ],
    [
      'deployment-limits.yaml',
      [
        'deployment-limits.yaml:10:9 warning: roles.etl-operator.allow[2]: shadowed by allow[1], which already allows every action here on every id it names',
        'deployment-limits.yaml:14:9 warning: roles.etl-operator.deny[0]: no role allows any of these actions on these ids on staging, so this deny takes nothing away',
        'deployment-limits.yaml:19:9 warning: roles.auditor.allow[0]: covers every DAG: role auditor may read any DAG on staging, reached by bindings[1] (groups: airflow-audit)',
      ],
    ],
  ])('%s', (name, expected) => {
    expect(warningsOf(fixture(name)).map((w) => w.replace('test/fixtures/policy/warnings/', ''))).toEqual(expected);
  });

  test('the example policy has nothing to warn about but how to move to policy version 2', () => {
    expect(warningsOf('examples/policy.yaml')).toEqual([`examples/policy.yaml:2:1 warning: version: ${version1Hint('etl-operator')}`]);
  });

  describe('backfills-hide-inside-trigger: a version-1 policy says once how to move to version 2', () => {
    const lint = (text: string) => {
      const { policy, source } = parsePolicySource('p.yaml', text);
      return lintPolicy(policy, source).map(formatProblem);
    };
    const roles = (version: number, actions: string) =>
      `version: ${version}\nroles:\n  a:\n    allow:\n      - dags: [x]\n        actions: [${actions}]\n  b:\n    allow:\n      - dags: [y]\n        actions: [read, edit]\n      - dags: [z]\n        actions: [trigger]\nbindings:\n  - { role: a, when: { groups: g } }\n  - { role: b, when: { groups: g } }\n`;

    test('trigger or edit grants in version 1: one warning on `version`, naming the roles', () => {
      expect(lint(roles(1, 'trigger'))).toEqual([`p.yaml:1:1 warning: version: ${version1Hint('a, b')}`]);
    });

    test('no warning in version 2, nor in version 1 without trigger or edit on dags', () => {
      expect(lint(roles(2, 'trigger'))).toEqual([]);
      expect(lint('version: 1\nroles:\n  a:\n    allow:\n      - dags: [x]\n        actions: [read, clear, backfill]\n      - variables: [x]\n        actions: [write]\nbindings:\n  - { role: a, when: { groups: g } }\n')).toEqual([]);
    });
  });

  test('with the live DAG list, dags patterns that match no DAG are named, in allow and deny grants', () => {
    const live = { upstream: 'prod', dagIds: ['etl_daily', 'etl_hourly', 'payroll_monthly', 'report_weekly'] };
    expect(warningsOf('examples/policy.yaml', live)).toEqual([
      `examples/policy.yaml:2:1 warning: version: ${version1Hint('etl-operator')}`,
      'examples/policy.yaml:15:28 warning: roles.reporting-reader.allow[0].dags[1]: "finance_daily" matches no DAG of upstream "prod" (4 DAGs)',
    ]);
    expect(warningsOf(fixture('ineffective-deny.yaml'), live)).toContain(
      'test/fixtures/policy/warnings/ineffective-deny.yaml:9:16 warning: roles.etl-operator.deny[0].dags[0]: "etl_prod_*" matches no DAG of upstream "prod" (4 DAGs)',
    );
  });

  test('with the live DAG list of one deployment, only the grants that apply there are checked', () => {
    expect(warningsOf(fixture('deployment-limits.yaml'), { upstream: 'prod', dagIds: ['report_weekly', 'report_daily'] }).filter((w) => w.includes('matches no DAG'))).toEqual([
      'test/fixtures/policy/warnings/deployment-limits.yaml:5:16 warning: roles.etl-operator.allow[0].dags[0]: "etl_*" matches no DAG of upstream "prod" (2 DAGs)',
      'test/fixtures/policy/warnings/deployment-limits.yaml:8:16 warning: roles.etl-operator.allow[1].dags[0]: "etl_*" matches no DAG of upstream "prod" (2 DAGs)',
    ]);
  });

  test('"*" is never reported as matching no DAG, even on an empty deployment', () => {
    expect(warningsOf(fixture('unbound-role.yaml'), { upstream: 'empty', dagIds: [] })).toEqual([
      'test/fixtures/policy/warnings/unbound-role.yaml:5:16 warning: roles.etl-operator.allow[0].dags[0]: "etl_*" matches no DAG of upstream "empty" (0 DAGs)',
      'test/fixtures/policy/warnings/unbound-role.yaml:8:3 warning: roles.auditor: no binding names this role, so no token can carry it',
    ]);
  });
});
