import { explainCall, formatExplanation, UnexplainableCall } from '../../src/admin/explain-call.js';
import { readPolicyFile } from '../../src/policy/policy-file.js';
import { fabUsersMatrix } from '../fixtures/fab-users-matrix.js';

/**
 * `policy explain` (and the admin API's explain, the same function) decides FAB's user management as the proxy
 * does on a real Airflow 3 (test/acceptance/proxy-fab-users.test.ts): one catalog, one decision path.
 */
const policy = readPolicyFile('test/fixtures/policy/fab-users.yaml');
const groups: Record<string, string[]> = {
  'user-admin': ['airflow-user-admins'],
  'svc-user-admin': ['airflow-svc-user-admins'],
  everything: ['airflow-everything'],
  'demo-etl': ['airflow-etl'],
};
const principal = (client: string) => ({ roles: policy.rolesFor({ directory: 'dev', subject: client, clientId: client, groups: groups[client]!, claims: {} }), details: undefined });

describe('explain agrees with the FAB user-management matrix', () => {
  it.each(fabUsersMatrix.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const path = `/airflow/prod/auth/fab/v1${c.path}${c.query ? `?${c.query}` : ''}`;
    const e = await explainCall(policy, principal(c.client), { method: c.method, path, body: c.body }, { prod: 'v2' });
    expect({ verdict: e.verdict, reason: e.decision.reason }).toEqual({ verdict: c.expect, reason: c.reason });
  });
});

describe('explaining FAB paths', () => {
  it('names the FAB root in the request and the refusal', async () => {
    const e = await explainCall(policy, principal('everything'), { method: 'DELETE', path: '/auth/fab/v1/users/admin' });
    expect(e.request).toMatchObject({ api: 'v2', root: '/auth/fab/v1', apiPath: '/users/admin' });
    expect(e.refusal).toMatchObject({ error: 'insufficient_scope', resource: 'users', resource_id: 'admin', action: 'delete', operation: 'delete_user' });
    expect(formatExplanation(e).split('\n')[0]).toBe('request:   DELETE /auth/fab/v1/users/admin');
  });

  it('fab-api-on-an-airflow-2-upstream-is-unexplainable-as-the-proxy-answers-404', async () => {
    const explained = explainCall(policy, principal('user-admin'), { method: 'GET', path: '/airflow/old/auth/fab/v1/users' }, { old: 'v1' });
    await expect(explained).rejects.toThrow(UnexplainableCall);
    await expect(explained).rejects.toThrow('upstream old serves /api/v1: the proxy answers 404 for /auth/fab/v1');
  });

  it.each([
    ['GET', '/auth/fab/v1/token', /404/],
    ['GET', '/airflow/prod/auth/fab/v1/logout', /404/],
    ['GET', '/airflow/prod/auth/logout', /404/],
    ['POST', '/airflow/prod/auth/token', /404/],
    ['PUT', '/auth/fab/v1/users/admin', /405/],
    ['GET', '/auth/fab/v1', /no API path/],
  ])('%s %s: the proxy answers before any decision', async (method, path, message) => {
    await expect(explainCall(policy, principal('user-admin'), { method, path })).rejects.toThrow(message);
  });
});
