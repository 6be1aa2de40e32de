import { apiVersions } from '../../src/airflow/api-versions.js';
import { compilePrincipal, type CompiledPrincipal } from '../../src/policy/evaluator.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { authorizeCall } from '../../src/proxy/authorize-call.js';
import { DecisionCache } from '../../src/proxy/decision-cache.js';

/**
 * The proxy decides a call that reads only its path once per compiled principal, catalog, method and path. Each
 * case below is a way a reused decision could be the wrong one.
 */
const v2 = apiVersions.v2.catalog;
const noLookups = { backfillDag: async (): Promise<string | undefined> => undefined };
const policyAllowing = (dags: string) => parsePolicy('p.yaml', `version: 2\nroles:\n  r:\n    allow:\n      - dags: [${dags}]\n        actions: [read, trigger, backfill]\n`);
const principal = (policy = policyAllowing('etl_*'), details?: Parameters<typeof compilePrincipal>[1]['details']) => compilePrincipal(policy, { roles: ['r'], details }, 'prod');

async function verdict(cache: DecisionCache, p: CompiledPrincipal, method: string, apiPath: string, options: { query?: string; body?: unknown; catalog?: typeof v2 } = {}) {
  const catalog = options.catalog ?? v2;
  const call = { method, apiPath, query: new URLSearchParams(options.query ?? ''), body: options.body };
  const { decision } = await authorizeCall(catalog, p, call, noLookups, catalog.match(method, apiPath), cache);
  return decision.allowed ? 'allow' : `deny ${decision.reason}`;
}

describe('decision cache', () => {
  it('decision-cache-hit-returns-the-stored-decision', async () => {
    const cache = new DecisionCache();
    const p = principal();
    const first = await authorizeCall(v2, p, { method: 'GET', apiPath: '/dags/etl_daily', query: new URLSearchParams(), body: undefined }, noLookups, undefined, cache);
    const second = await authorizeCall(v2, p, { method: 'GET', apiPath: '/dags/etl_daily', query: new URLSearchParams(), body: undefined }, noLookups, undefined, cache);
    expect(second).toBe(first);
    expect(cache.size(p, v2)).toBe(1);
  });

  it('decision-cache-policy-reload-changes-the-next-decision', async () => {
    const cache = new DecisionCache();
    expect(await verdict(cache, principal(policyAllowing('etl_*')), 'GET', '/dags/etl_daily')).toBe('allow');
    // A reload is a new policy object, so a new compiled principal: the stored allow is not its answer.
    expect(await verdict(cache, principal(policyAllowing('ml_*')), 'GET', '/dags/etl_daily')).toBe('deny no-matching-grant');
  });

  it('decision-cache-narrowed-token-gets-its-own-decision', async () => {
    const cache = new DecisionCache();
    const policy = policyAllowing('etl_*');
    expect(await verdict(cache, principal(policy), 'GET', '/dags/etl_daily')).toBe('allow');
    const narrowed = principal(policy, [{ type: 'airflow', dags: ['etl_weekly'], actions: ['read'] }]);
    expect(await verdict(cache, narrowed, 'GET', '/dags/etl_daily')).toBe('deny outside-authorization-details');
  });

  it('decision-cache-other-dag-id-in-the-path-gets-its-own-decision', async () => {
    const cache = new DecisionCache();
    const p = principal();
    expect(await verdict(cache, p, 'GET', '/dags/etl_daily')).toBe('allow');
    expect(await verdict(cache, p, 'GET', '/dags/payroll_monthly')).toBe('deny no-matching-grant');
    expect(await verdict(cache, p, 'GET', '/dags/etl_daily/dagRuns')).toBe('allow');
    expect(await verdict(cache, p, 'GET', '/dags/payroll_monthly/dagRuns')).toBe('deny no-matching-grant');
    // The method is part of the key too.
    expect(await verdict(cache, p, 'DELETE', '/dags/etl_daily')).toBe('deny no-matching-grant');
  });

  it('decision-cache-keeps-catalogs-apart', async () => {
    const cache = new DecisionCache();
    const p = principal();
    await verdict(cache, p, 'GET', '/dags/etl_daily');
    expect(cache.size(p, v2)).toBe(1);
    expect(cache.size(p, apiVersions.v1.catalog)).toBe(0);
    expect(cache.get(p, apiVersions.v1.catalog, 'GET', '/dags/etl_daily')).toBeUndefined();
  });

  it('decision-cache-never-stores-a-call-that-reads-the-body-or-asks-airflow', async () => {
    const cache = new DecisionCache();
    const p = principal();
    const body = { dag_id: 'etl_daily', from_date: '2026-01-01T00:00:00Z', to_date: '2026-01-02T00:00:00Z' };
    expect(await verdict(cache, p, 'POST', '/backfills', { body })).toBe('allow');
    // The same method and path with another DAG in the body is decided on its body, not on the first answer.
    expect(await verdict(cache, p, 'POST', '/backfills', { body: { ...body, dag_id: 'payroll_monthly' } })).toBe('deny no-matching-grant');
    expect(cache.size(p, v2)).toBe(0);
    // A backfill id is looked up at Airflow on every call: the lookup's answer may change.
    let owner = 'etl_daily';
    const lookups = { backfillDag: async () => owner };
    const pause = () => authorizeCall(v2, p, { method: 'PUT', apiPath: '/backfills/7/pause', query: new URLSearchParams(), body: undefined }, lookups, undefined, cache);
    expect((await pause()).decision.allowed).toBe(true);
    owner = 'payroll_monthly';
    expect((await pause()).decision.allowed).toBe(false);
    expect(cache.size(p, v2)).toBe(0);
  });

  it('decision-cache-never-stores-a-call-that-reads-the-query', async () => {
    const cache = new DecisionCache();
    const p = principal();
    // DAG warnings name their DAG in the query (`dag_id`): the path alone does not decide.
    expect(await verdict(cache, p, 'GET', '/dagWarnings', { query: 'dag_id=etl_daily' })).toBe('allow');
    expect(await verdict(cache, p, 'GET', '/dagWarnings', { query: 'dag_id=payroll_monthly' })).toBe('deny no-matching-grant');
    expect(cache.size(p, v2)).toBe(0);
  });

  it('decision-cache-hit-still-checks-the-call-input', async () => {
    const cache = new DecisionCache();
    const p = principal();
    expect(await verdict(cache, p, 'GET', '/dags/etl_daily')).toBe('allow');
    await expect(verdict(cache, p, 'GET', '/dags/etl_daily', { query: 'fields=a&fields=b&x=1&x=2' })).rejects.toThrow(/may appear only once/);
    await expect(verdict(cache, p, 'GET', '/dags/etl_daily', { body: { a: 1 } })).rejects.toThrow(/takes no request body/);
  });

  it('decision-cache-bound-per-principal', async () => {
    const cache = new DecisionCache(3);
    const p = principal();
    for (const dag of ['etl_a', 'etl_b', 'etl_c', 'etl_d', 'etl_e']) await verdict(cache, p, 'GET', `/dags/${dag}`);
    expect(cache.size(p, v2)).toBe(3);
    // The least recently used went first.
    expect(cache.get(p, v2, 'GET', '/dags/etl_a')).toBeUndefined();
    expect(cache.get(p, v2, 'GET', '/dags/etl_e')).toBeDefined();
  });
});
