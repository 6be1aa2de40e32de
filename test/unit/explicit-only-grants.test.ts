import { ALL, compilePrincipal, evaluateCheck } from '../../src/policy/evaluator.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { resourceActions, resourceKinds, type Action } from '../../src/policy/vocabulary.js';

/**
 * `users` and `roles` (FAB's user management) are granted only by grants of those kinds: for every other kind, its
 * widest grant (`*`, every action), on a broker-admin role with `airflow_role: admin`, allows no check on them.
 * Pure: the proxy (v1 and FAB's `/auth/fab/v1`) and `explain` decide through this evaluator.
 */
const userManagement = ['users', 'roles'] as const;
const otherKinds = resourceKinds.filter((k) => !(userManagement as readonly string[]).includes(k));
const widest = otherKinds.map((k) => `      - ${k}: ["*"]\n        actions: [${resourceActions[k].join(', ')}]`).join('\n');
const policy = parsePolicy(
  'policy.yaml',
  `version: 2
roles:
  everything-else:
    admin: true
    airflow_role: admin
    allow:
${widest}
  user-admin:
    allow:
      - users: ["*"]
        actions: [read, write, delete]
      - roles: ["svc-*"]
        actions: [read]
`,
);

const cases = userManagement.flatMap((resource) => resourceActions[resource].flatMap((action) => [ALL, 'admin', '*', 'Admin'].map((id) => ({ resource, action: action as Action, id }))));

it('the widest grant of every other kind covers every other kind (the test would otherwise prove nothing)', () => {
  const p = compilePrincipal(policy, { roles: ['everything-else'], details: undefined }, 'prod');
  for (const kind of otherKinds) expect(evaluateCheck(p, { resource: kind, action: resourceActions[kind][0], id: ALL }).allowed).toBe(true);
});

it.each(cases.map((c) => [`${c.action} ${c.resource} ${c.id === ALL ? 'all' : c.id}`, c] as const))('wildcard-grants-of-other-kinds-never-reach-user-management: %s', (_, check) => {
  const verdict = evaluateCheck(compilePrincipal(policy, { roles: ['everything-else'], details: undefined }, 'prod'), check);
  expect({ allowed: verdict.allowed, reason: verdict.reason }).toEqual({ allowed: false, reason: 'no-matching-grant' });
});

it('an explicit grant is what allows them, within its patterns and actions', () => {
  const p = compilePrincipal(policy, { roles: ['user-admin'], details: undefined }, 'prod');
  expect(evaluateCheck(p, { resource: 'users', action: 'delete', id: 'admin' }).allowed).toBe(true);
  expect(evaluateCheck(p, { resource: 'roles', action: 'read', id: 'svc-x' }).allowed).toBe(true);
  expect(evaluateCheck(p, { resource: 'roles', action: 'read', id: 'Admin' }).allowed).toBe(false);
  expect(evaluateCheck(p, { resource: 'roles', action: 'write', id: 'svc-x' }).allowed).toBe(false);
});
