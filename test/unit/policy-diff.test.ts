import { readFileSync } from 'node:fs';
import { diffPolicies, formatPolicyDiff } from '../../src/policy/policy-diff.js';
import { parsePolicy, readPolicyFile } from '../../src/policy/policy-file.js';

const OLD = 'test/fixtures/policy/diff/old.yaml';
const NEW = 'test/fixtures/policy/diff/new.yaml';
const diff = () => diffPolicies(readPolicyFile(OLD), readPolicyFile(NEW));

describe('policy diff', () => {
  test('reads as a review: per role, bindings, then who gains or loses which role', () => {
    expect(formatPolicyDiff(diff())).toBe(
      [
        'role reporting-reader (changed)',
        '  - allow dags "finance_daily": read',
        'role etl-operator (changed)',
        '  token_ttl: 10m -> 15m',
        '  airflow_role: (unset) -> user',
        '  + allow dags "etl_*": pause',
        '  - allow variables "etl_*": write',
        '  + deny dags "etl_prod_*": clear',
        'role auditor (added)',
        '  + allow dags "*": read',
        '  + allow views "event_logs": read',
        'role legacy-admin (removed)',
        '  admin: true -> false',
        '  - allow dags "*": read, trigger, pause',
        'bindings',
        '  - [1] reporting-reader when {client_id: [svc-reporting, svc-finance]}',
        '  - [2] legacy-admin when {groups: airflow-admins}',
        '  + [0] reporting-reader when {client_id: svc-reporting}',
        '  + [2] auditor when {groups: [airflow-audit, airflow-admins]}',
        'who gets which roles',
        '  {groups: airflow-audit}: gains auditor',
        '  {groups: airflow-admins}: gains auditor; loses legacy-admin',
        '  {client_id: svc-finance}: loses reporting-reader',
        '',
      ].join('\n'),
    );
  });

  test('JSON carries the same facts', () => {
    const none = { gained: [], lost: [] };
    const noDeny = { added: [], removed: [] };
    expect(JSON.parse(JSON.stringify(diff()))).toEqual({
      roles: [
        { role: 'reporting-reader', status: 'changed', settings: [], allow: { gained: [], lost: [{ kind: 'dags', pattern: 'finance_daily', action: 'read' }] }, deny: noDeny },
        {
          role: 'etl-operator',
          status: 'changed',
          settings: [
            { setting: 'token_ttl', old: '10m', new: '15m' },
            { setting: 'airflow_role', old: null, new: 'user' },
          ],
          allow: { gained: [{ kind: 'dags', pattern: 'etl_*', action: 'pause' }], lost: [{ kind: 'variables', pattern: 'etl_*', action: 'write' }] },
          deny: { added: [{ kind: 'dags', pattern: 'etl_prod_*', action: 'clear' }], removed: [] },
        },
        {
          role: 'auditor',
          status: 'added',
          settings: [],
          allow: { gained: [{ kind: 'dags', pattern: '*', action: 'read' }, { kind: 'views', pattern: 'event_logs', action: 'read' }], lost: [] },
          deny: noDeny,
        },
        {
          role: 'legacy-admin',
          status: 'removed',
          settings: [{ setting: 'admin', old: true, new: false }],
          allow: { ...none, lost: ['read', 'trigger', 'pause'].map((action) => ({ kind: 'dags', pattern: '*', action })) },
          deny: noDeny,
        },
      ],
      bindings: {
        added: [
          { index: 0, role: 'reporting-reader', when: { client_id: ['svc-reporting'] } },
          { index: 2, role: 'auditor', when: { groups: ['airflow-audit', 'airflow-admins'] } },
        ],
        removed: [
          { index: 1, role: 'reporting-reader', when: { client_id: ['svc-reporting', 'svc-finance'] } },
          { index: 2, role: 'legacy-admin', when: { groups: ['airflow-admins'] } },
        ],
      },
      conditions: [
        { when: { groups: 'airflow-audit' }, gains: ['auditor'], loses: [] },
        { when: { groups: 'airflow-admins' }, gains: ['auditor'], loses: ['legacy-admin'] },
        { when: { client_id: 'svc-finance' }, gains: [], loses: ['reporting-reader'] },
      ],
    });
  });

  test('a policy against itself, or with only order and comments changed, is no change', () => {
    const example = readPolicyFile('examples/policy.yaml');
    expect(formatPolicyDiff(diffPolicies(example, example))).toBe('no effective change\n');
    const reordered = parsePolicy('reordered.yaml', readFileSync('examples/policy.yaml', 'utf8').replace('version: 1', '# reviewed\nversion: 1'));
    expect(diffPolicies(example, reordered)).toEqual({ roles: [], bindings: { added: [], removed: [] }, conditions: [] });
  });

  test('widening a binding to fewer conditions gains the role for the wider set and loses it nowhere', () => {
    const narrow = parsePolicy('a.yaml', 'version: 1\nroles: { ops: {} }\nbindings:\n  - role: ops\n    when: { groups: sre, directory: corp }\n');
    const wide = parsePolicy('b.yaml', 'version: 1\nroles: { ops: {} }\nbindings:\n  - role: ops\n    when: { groups: sre }\n');
    expect(diffPolicies(narrow, wide).conditions).toEqual([{ when: { groups: 'sre' }, gains: ['ops'], loses: [] }]);
    expect(diffPolicies(wide, narrow).conditions).toEqual([{ when: { groups: 'sre' }, gains: [], loses: ['ops'] }]);
  });

  test('realm-roles-cannot-be-bound: a change of claim pointers or their values is an effective change', () => {
    const policy = (claims: string) => parsePolicy('p.yaml', `version: 1\nroles: { etl: {} }\nbindings:\n  - role: etl\n    when: { directory: corp, claims: ${claims} }\n`);
    const realm = policy('{ "/realm_access/roles": [airflow-etl] }');
    const client = policy('{ "/resource_access/airflow/roles": [airflow-etl, etl] }');
    expect(formatPolicyDiff(diffPolicies(realm, client))).toBe(
      [
        'bindings',
        '  - [0] etl when {directory: corp, /realm_access/roles: airflow-etl}',
        '  + [0] etl when {directory: corp, /resource_access/airflow/roles: [airflow-etl, etl]}',
        'who gets which roles',
        '  {directory: corp, /resource_access/airflow/roles: airflow-etl}: gains etl',
        '  {directory: corp, /resource_access/airflow/roles: etl}: gains etl',
        '  {directory: corp, /realm_access/roles: airflow-etl}: loses etl',
        '',
      ].join('\n'),
    );
    expect(diffPolicies(realm, policy('{ "/realm_access/roles": airflow-etl }'))).toEqual({ roles: [], bindings: { added: [], removed: [] }, conditions: [] });
  });

  describe('deployments', () => {
    const everywhere = parsePolicy('a.yaml', 'version: 1\nroles:\n  etl:\n    allow:\n      - dags: ["etl_*"]\n        actions: [read, trigger]\n  tester:\n    allow:\n      - dags: ["*"]\n        actions: [read]\nbindings: []\n');
    const limited = parsePolicy(
      'b.yaml',
      'version: 1\nroles:\n  etl:\n    allow:\n      - dags: ["etl_*"]\n        actions: [read]\n      - dags: ["etl_*"]\n        actions: [trigger]\n        deployments: [prod]\n' +
        '  tester:\n    deployments: [staging]\n    allow:\n      - dags: ["*"]\n        actions: [read]\nbindings: []\n',
    );

    test('limiting a grant or a role to deployments loses its permissions everywhere else', () => {
      expect(formatPolicyDiff(diffPolicies(everywhere, limited))).toBe(
        [
          'role etl (changed)',
          '  - allow dags "etl_*": trigger (on every deployment but prod)',
          'role tester (changed)',
          '  deployments: (every deployment) -> staging',
          '  - allow dags "*": read (on every deployment but staging)',
          '',
        ].join('\n'),
      );
      expect(diffPolicies(everywhere, limited).roles[0]!.allow.lost).toEqual([{ kind: 'dags', pattern: 'etl_*', action: 'trigger', deployments: { except: ['prod'] } }]);
    });

    test('lifting the limit gains them back, and moving a grant shows both deployments', () => {
      expect(formatPolicyDiff(diffPolicies(limited, everywhere))).toBe(
        [
          'role etl (changed)',
          '  + allow dags "etl_*": trigger (on every deployment but prod)',
          'role tester (changed)',
          '  deployments: staging -> (every deployment)',
          '  + allow dags "*": read (on every deployment but staging)',
          '',
        ].join('\n'),
      );
      const moved = parsePolicy('c.yaml', readFileSync('examples/policy.yaml', 'utf8').replace('actions: [read, trigger, clear]', 'actions: [read, trigger, clear]\n        deployments: [prod]'));
      const movedAgain = parsePolicy('d.yaml', readFileSync('examples/policy.yaml', 'utf8').replace('actions: [read, trigger, clear]', 'actions: [read, trigger, clear]\n        deployments: [staging, prod]'));
      expect(formatPolicyDiff(diffPolicies(moved, movedAgain))).toBe('role etl-operator (changed)\n  + allow dags "etl_*": read, trigger, clear (on staging)\n');
      expect(diffPolicies(movedAgain, moved).roles[0]!.allow.lost).toEqual(
        ['read', 'trigger', 'clear'].map((action) => ({ kind: 'dags', pattern: 'etl_*', action, deployments: { only: ['staging'] } })),
      );
    });

    test('a limit that changes nothing effective is no change', () => {
      const same = parsePolicy('e.yaml', readFileSync('examples/policy.yaml', 'utf8'));
      expect(formatPolicyDiff(diffPolicies(readPolicyFile('examples/policy.yaml'), same))).toBe('no effective change\n');
      expect(formatPolicyDiff(diffPolicies(limited, limited))).toBe('no effective change\n');
    });
  });

  describe('backfills-hide-inside-trigger: between versions 1 and 2, the backfill operations that change', () => {
    const V1 = 'test/fixtures/policy/diff/backfill-v1.yaml';
    const V2 = 'test/fixtures/policy/diff/backfill-v2.yaml';

    test('the same roles in version 2 lose what version 1 gave them through trigger and edit', () => {
      expect(formatPolicyDiff(diffPolicies(readPolicyFile(V1), readPolicyFile(V2)))).toBe(
        [
          'version: 1 -> 2 ("trigger" and "edit" no longer cover backfills)',
          'role etl-operator (changed)',
          '  - allow dags "etl_*": backfill (create_backfill, create_backfill_dry_run)',
          'role platform-operator (changed)',
          '  - allow dags "*": backfill (create_backfill, create_backfill_dry_run, pause_backfill, unpause_backfill, cancel_backfill)',
          '',
        ].join('\n'),
      );
      const json = JSON.parse(JSON.stringify(diffPolicies(readPolicyFile(V1), readPolicyFile(V2))));
      expect(json.version).toEqual({ old: 1, new: 2 });
      expect(json.roles[0].allow.lost).toEqual([
        { kind: 'dags', pattern: 'etl_*', action: 'backfill', operation: 'create_backfill' },
        { kind: 'dags', pattern: 'etl_*', action: 'backfill', operation: 'create_backfill_dry_run' },
      ]);
    });

    test('adding backfill while moving to version 2 keeps creating and gains pausing, unpausing and cancelling', () => {
      const v2 = parsePolicy('v2.yaml', readFileSync(V2, 'utf8').replace('actions: [read, trigger, clear]', 'actions: [read, trigger, clear, backfill]'));
      expect(formatPolicyDiff(diffPolicies(readPolicyFile(V1), v2))).toBe(
        [
          'version: 1 -> 2 ("trigger" and "edit" no longer cover backfills)',
          'role etl-operator (changed)',
          '  + allow dags "etl_*": backfill (pause_backfill, unpause_backfill, cancel_backfill)',
          'role platform-operator (changed)',
          '  - allow dags "*": backfill (create_backfill, create_backfill_dry_run, pause_backfill, unpause_backfill, cancel_backfill)',
          '',
        ].join('\n'),
      );
    });

    test('within one version, backfill is an action like any other', () => {
      const v2 = readPolicyFile(V2);
      const more = parsePolicy('v2.yaml', readFileSync(V2, 'utf8').replace('actions: [read]', 'actions: [read, backfill]'));
      expect(formatPolicyDiff(diffPolicies(v2, more))).toBe('role reporting-reader (changed)\n  + allow dags "report_*": backfill\n');
    });
  });
});
