import { apiVersions } from '../../src/airflow/api-versions.js';
import { applyToEach, filteredList, type ScanContext } from '../../src/proxy/list-filter.js';
import { authorizeCall } from '../../src/proxy/authorize-call.js';
import type { IdLookups } from '../../src/proxy/resolve-checks.js';
import { compilePrincipal } from '../../src/policy/evaluator.js';
import type { Policy } from '../../src/policy/policy.js';
import { parsePolicy, readPolicyFile } from '../../src/policy/policy-file.js';
import type { AirflowClient } from '../../src/airflow/airflow-client.js';

/**
 * Calls that try to make Airflow 2 act on DAGs or assets the policy did not allow, through the shapes only
 * `/api/v1` has: comma-joined id lists, clears that follow ExternalTaskMarkers, a required pattern left out.
 */

const catalog = apiVersions.v1.catalog;
const example = readPolicyFile('examples/policy.yaml');
const etl = ['etl-operator'];
const noLookups: IdLookups = { backfillDag: () => Promise.resolve(undefined) };

async function verdict(policy: Policy, roles: string[], method: string, pathAndQuery: string, body?: unknown) {
  const [path, query = ''] = pathAndQuery.split('?');
  const principal = compilePrincipal(policy, { roles, details: undefined }, undefined);
  const { decision } = await authorizeCall(catalog, principal, { method, apiPath: path!, query: new URLSearchParams(query), body }, noLookups);
  return decision.allowed ? (decision.filter ? 'filter' : 'allow') : 'deny';
}

describe('attacks on the v1 catalog', () => {
  it('dag-stats-comma-list-smuggles-another-dag', async () => {
    // `etl_*` matches the joined string "etl_daily,payroll_monthly"; Airflow splits it on commas.
    expect(await verdict(example, etl, 'GET', '/dagStats?dag_ids=etl_daily,payroll_monthly')).toBe('deny');
    expect(await verdict(example, etl, 'GET', '/dagStats?dag_ids=etl_daily,etl_hourly')).toBe('allow');
  });

  it.each([
    ['include_subdags', { include_subdags: true }],
    ['include_parentdag', { include_parentdag: true }],
    ['include_subdags spelled as a string', { include_subdags: 'yes' }],
    ['include_subdags as a number', { include_subdags: 1 }],
  ])('clear-task-instances-reaches-other-dags-through-%s', async (_, flags) => {
    expect(await verdict(example, etl, 'POST', '/dags/etl_daily/clearTaskInstances', { dry_run: false, ...flags })).toBe('deny');
  });

  it('clear-task-instances-within-the-dag-is-allowed', async () => {
    const body = { dry_run: false, dag_run_id: 'r1', include_upstream: true, include_downstream: true, include_subdags: false, include_parentdag: false };
    expect(await verdict(example, etl, 'POST', '/dags/etl_daily/clearTaskInstances', body)).toBe('allow');
    expect(await verdict(example, etl, 'POST', '/dags/etl_daily/clearTaskInstances', { dry_run: true })).toBe('allow');
  });

  it('clear-dag-run-follows-external-task-markers', async () => {
    // Airflow 2 clears a run with include_subdags and include_parentdag always on.
    expect(await verdict(example, etl, 'POST', '/dags/etl_daily/dagRuns/r1/clear', { dry_run: true })).toBe('deny');
    const everyDag = parsePolicy('test.yaml', 'version: 2\nroles:\n  clearer:\n    allow:\n      - { dags: ["*"], actions: [clear] }\n');
    expect(await verdict(everyDag, ['clearer'], 'POST', '/dags/etl_daily/dagRuns/r1/clear', { dry_run: false })).toBe('allow');
  });

  it.each([
    ['POST', '/dags/etl_daily/updateTaskInstancesState'],
    ['PATCH', '/dags/etl_daily/dagRuns/r1/taskInstances/t1'],
    ['PATCH', '/dags/etl_daily/dagRuns/r1/taskInstances/t1/0'],
  ])('committed-task-state-clears-other-dags-downstream (%s %s)', async (method, path) => {
    const editor = parsePolicy('test.yaml', 'version: 2\nroles:\n  editor:\n    allow:\n      - { dags: ["etl_*"], actions: [edit, clear] }\n');
    expect(await verdict(editor, ['editor'], method, path, { dry_run: false, new_state: 'success' })).toBe('deny');
    expect(await verdict(editor, ['editor'], method, path, { dry_run: 'false', new_state: 'success' })).toBe('deny');
    expect(await verdict(editor, ['editor'], method, path, { dry_run: true, new_state: 'success' })).toBe('allow');
    expect(await verdict(editor, ['editor'], method, path, { new_state: 'success' })).toBe('allow');
  });

  it('dataset-uri-is-not-an-asset-id', async () => {
    const someAssets = parsePolicy('test.yaml', 'version: 2\nroles:\n  a:\n    allow:\n      - { assets: ["s3*"], actions: [read] }\n');
    expect(await verdict(someAssets, ['a'], 'GET', '/datasets/s3://bucket/key')).toBe('deny');
  });
});


describe('filtered v1 lists refuse what they cannot filter as Airflow would, before asking Airflow anything', () => {
  /** Any call to Airflow fails the test: these refusals come first. */
  const untouchable = new Proxy({}, { get: () => () => Promise.reject(new Error('Airflow was asked')) }) as unknown as AirflowClient;
  const ctx: ScanContext = { client: untouchable, apiRoot: '/api/v1', authorization: 'Basic x', scanLimit: 1000, paging: apiVersions.v1.paging };
  const patchDags = catalog.match('PATCH', '/dags')[0]!.operation;
  const getDags = catalog.match('GET', '/dags')[0]!.operation;

  it('patch-dags-without-dag-id-pattern-pauses-every-permitted-dag', async () => {
    // Airflow 2 requires dag_id_pattern; applied item by item without it, the proxy would pause every DAG the token may.
    if (patchDags.access !== 'policy') throw new Error('patch_dags is a policy operation');
    await expect(applyToEach(ctx, '/api/v1/dags', 'update_mask=is_paused', patchDags.list!, () => true, 'PATCH', { is_paused: true })).rejects.toMatchObject({
      code: 'invalid_request',
      description: 'dag_id_pattern is required',
    });
  });

  it('list-fields-without-the-id-hide-what-to-filter', async () => {
    if (getDags.access !== 'policy') throw new Error('get_dags is a policy operation');
    await expect(filteredList(ctx, '/api/v1/dags', 'fields=is_paused', getDags.list!, () => true)).rejects.toMatchObject({ code: 'invalid_request' });
  });
});
