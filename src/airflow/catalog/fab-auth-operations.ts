import { check, list, policy, routeFor } from './catalog-rows.js';
import type { IdSource, Operation } from './operation.js';

/**
 * The FAB auth manager's user-management API on Airflow 3 (`/auth/fab/v1`, the FastAPI routes of
 * `apache-airflow-providers-fab`, checked against provider 3.10.2 on Airflow 3.3.2: 5 paths, 11 operations), in
 * the same vocabulary as Airflow 2's `/api/v1/users|roles|permissions`, so one policy governs both lines.
 * Written by hand from the provider's `api_fastapi/routes/{users,roles}.py`; the acceptance test
 * `test/acceptance/proxy-fab-users.test.ts` compares it with the live OpenAPI document.
 *
 * - Users are the `users` resource by username, roles the `roles` resource by role name (FAB's path parameter is
 *   `{name}`); listing FAB's permissions is `read` on every role, as in v1.
 * - Lists are filtered to the names a grant covers, as every other list is.
 * - A patch may rename: a role to the body's `name` (required by FAB), a user to the body's `username` (when
 *   present), so it needs `write` on that name as well.
 * - Nothing else below `/auth` is proxied: FAB serves its password login (`/auth/token`, `/auth/token/cli`), its
 *   logout (cookies; Airflow's `/api/v2/auth/logout` is the one that revokes tokens) and its Flask pages there, and the proxy answers 404 for all of them.
 */

const all: IdSource = { from: 'all' };
const route = routeFor({}, new Set());

const users: IdSource = { from: 'path', param: 'username' };
const role: IdSource = { from: 'path', param: 'name' };

export const fabAuthOperations: readonly Operation[] = [
  policy(route('get_users', 'GET', '/users'), check('users', 'read', all), list('users', 'username')),
  policy(route('create_user', 'POST', '/users'), check('users', 'write', { from: 'body', field: 'username' })),
  policy(route('get_user', 'GET', '/users/{username}'), check('users', 'read', users)),
  policy(route('update_user', 'PATCH', '/users/{username}'), check('users', 'write', users), { also: [check('users', 'write', { from: 'body', field: 'username', optional: true })] }),
  policy(route('delete_user', 'DELETE', '/users/{username}'), check('users', 'delete', users)),

  policy(route('get_roles', 'GET', '/roles'), check('roles', 'read', all), list('roles', 'name')),
  policy(route('create_role', 'POST', '/roles'), check('roles', 'write', { from: 'body', field: 'name' })),
  policy(route('get_role', 'GET', '/roles/{name}'), check('roles', 'read', role)),
  policy(route('patch_role', 'PATCH', '/roles/{name}'), check('roles', 'write', role), { also: [check('roles', 'write', { from: 'body', field: 'name' })] }),
  policy(route('delete_role', 'DELETE', '/roles/{name}'), check('roles', 'delete', role)),

  policy(route('get_permissions', 'GET', '/permissions'), check('roles', 'read', all)),
];
