import { check, dagList, list, policy, routeFor, type Extras, type Row } from './catalog-rows.js';
import { version1BackfillActions, type Action, type BackfillOperation, type viewIds } from '../../policy/vocabulary.js';
import type { BulkSpec, HttpMethod, IdSource, ListSpec, Operation } from './operation.js';

/**
 * Every operation of Airflow 3's public REST API (`/api/v2`, checked against 3.3.2: 88 paths, 128 operations),
 * each mapped to the policy check the proxy makes before forwarding it. Written by hand from the OpenAPI
 * document and the route dependencies in Airflow's `api_fastapi/core_api/security.py`;
 * `test/acceptance/catalog-coverage.test.ts` compares it with a live server and `docs/airflow-catalog.md` is
 * generated from it.
 *
 * Where this table deliberately differs from Airflow's own checks:
 * - Dry runs (`create_backfill_dry_run`, `patch_task_*_dry_run`) need the action they preview: Airflow too checks
 *   the same write permission as the real operation, not a read.
 * - `favorite_dag` / `unfavorite_dag` need `edit` (Airflow: read); `get_external_log_url` needs `read_logs`, as
 *   in Airflow (it checks the task-logs permission).
 * - Where Airflow checks a resource "in general" (no id), or acts on ids only it can see (the DAG an asset
 *   materializes, the connection behind a test token, every DAG of a file, every DAG matching a pattern), the
 *   check is on every resource of the kind: only a grant covering all of them allows it.
 * - Asset grants match the numeric asset id in its decimal form (`"42"`), not the asset's name or URI. Asset
 *   aliases have ids of their own, so reading them needs a grant on every asset.
 * - Event logs are the `event_logs` view (Airflow checks the audit-log permission of the log's DAG).
 */

const dagPath: IdSource = { from: 'path', param: 'dag_id' };
const assetPath: IdSource = { from: 'path', param: 'asset_id' };
const all: IdSource = { from: 'all' };
const backfillDag: IdSource = { from: 'lookup', lookup: 'backfill_dag', param: 'backfill_id' };

/**
 * Query parameters each operation declares as arrays in Airflow's OpenAPI document (`type: array`), the only
 * ones that may repeat; the coverage test compares this table with a live server.
 */
const arrayQuery: Readonly<Record<string, readonly string[]>> = {
  get_assets: ['dag_ids', 'order_by'],
  get_asset_aliases: ['order_by'],
  get_asset_events: ['order_by'],
  list_backfills: ['order_by'],
  patch_connection: ['update_mask'],
  get_connections: ['order_by'],
  patch_dag_run: ['update_mask'],
  get_dag_runs: ['run_type', 'state', 'dag_version', 'order_by'],
  wait_dag_run_until_finished: ['result'],
  get_dag_stats: ['dag_ids'],
  list_dag_warnings: ['order_by'],
  get_dags: ['tags', 'owners', 'dag_run_state', 'order_by', 'timetable_type'],
  patch_dags: ['update_mask', 'tags', 'owners'],
  patch_dag: ['update_mask'],
  get_event_logs: ['order_by', 'excluded_events', 'included_events'],
  get_import_errors: ['order_by'],
  get_jobs: ['order_by'],
  patch_pool: ['update_mask'],
  get_pools: ['order_by'],
  get_xcom_entries: ['order_by'],
  patch_task_instance: ['update_mask'],
  get_mapped_task_instances: ['state', 'pool', 'queue', 'executor', 'version_number', 'try_number', 'operator', 'map_index', 'order_by'],
  patch_task_instance_by_map_index: ['update_mask'],
  get_task_instances: ['state', 'pool', 'queue', 'executor', 'version_number', 'try_number', 'operator', 'map_index', 'order_by'],
  patch_task_group_instances: ['update_mask'],
  patch_task_instance_dry_run_by_map_index: ['update_mask'],
  patch_task_instance_dry_run: ['update_mask'],
  patch_variable: ['update_mask'],
  get_variables: ['order_by'],
  get_dag_tags: ['order_by'],
  get_dag_versions: ['order_by'],
  get_hitl_details: ['order_by', 'state', 'responded_by_user_id', 'responded_by_user_name'],
};

/** POST, PUT and PATCH operations that declare no request body (no GET or DELETE operation declares one). */
const withoutBody = new Set(['pause_backfill', 'unpause_backfill', 'cancel_backfill', 'create_default_connections', 'favorite_dag', 'unfavorite_dag', 'reparse_dag_file']);

const route = routeFor(arrayQuery, withoutBody);


const dags = (row: Row, action: Action, ids: IdSource = dagPath, extras?: Extras) => policy(row, check('dags', action, ids), extras);
const assets = (row: Row, action: Action, ids: IdSource = assetPath, extras?: Extras) => policy(row, check('assets', action, ids), extras);
/** A backfill change: `backfill` on its DAG, and under a version-1 policy the action that covered it then. */
const backfill = (name: BackfillOperation, method: HttpMethod, template: string, ids: IdSource) =>
  policy(route(name, method, template), { ...check('dags', 'backfill', ids), version1Action: version1BackfillActions[name] });
const view = (row: Row, id: (typeof viewIds)[number]) => policy(row, check('views', 'read', { from: 'fixed', id }));
const unpaginated = (l: { list: ListSpec }): { list: ListSpec } => ({ list: { ...l.list, paginated: false } });

/** Variables, connections and pools share one shape: list, create, read, patch, delete, bulk. */
function keyedResource(
  resource: 'variables' | 'connections' | 'pools',
  base: string,
  param: string,
  field: string,
  names: { list: string; create: string; get: string; patch: string; delete: string; bulk: string },
  itemsKey: string,
  pathParams?: readonly string[],
): Operation[] {
  const item = `${base}/{${param}}`;
  const byPath: IdSource = { from: 'path', param };
  const bulk: BulkSpec = { field, actions: { create: 'write', update: 'write', delete: 'delete' } };
  return [
    policy(route(names.list, 'GET', base), check(resource, 'read', all), list(itemsKey, field)),
    policy(route(names.create, 'POST', base), check(resource, 'write', { from: 'body', field })),
    policy(route(names.bulk, 'PATCH', base), check(resource, 'write', all), { bulk }),
    policy(route(names.get, 'GET', item, pathParams), check(resource, 'read', byPath)),
    policy(route(names.patch, 'PATCH', item, pathParams), check(resource, 'write', byPath)),
    policy(route(names.delete, 'DELETE', item, pathParams), check(resource, 'delete', byPath)),
  ];
}

const dagRun = '/dags/{dag_id}/dagRuns/{dag_run_id}';
const ti = `${dagRun}/taskInstances/{task_id}`;
const mappedTi = `${ti}/{map_index}`;
const queuedEvents = (prefix: string) => `${prefix}/queuedEvents`;

export const airflowV2Operations: readonly Operation[] = [
  // Unauthenticated in Airflow, or Airflow's own browser login (never proxied).
  { ...route('get_health', 'GET', '/monitor/health'), access: 'public', public: true },
  { ...route('get_version', 'GET', '/version'), access: 'public', public: true },
  { ...route('login', 'GET', '/auth/login'), access: 'never' },
  { ...route('logout', 'GET', '/auth/logout'), access: 'never' },

  // DAGs.
  dags(route('get_dags', 'GET', '/dags'), 'read', all, dagList('dags')),
  // `dag_id_pattern` selects the DAGs to pause: which ones is only known to Airflow.
  dags(route('patch_dags', 'PATCH', '/dags'), 'pause', all, { list: { itemsKey: 'dags', idField: 'dag_id', each: '/dags/{id}' } }),
  dags(route('get_dag', 'GET', '/dags/{dag_id}'), 'read'),
  dags(route('patch_dag', 'PATCH', '/dags/{dag_id}'), 'pause'),
  dags(route('delete_dag', 'DELETE', '/dags/{dag_id}'), 'delete'),
  dags(route('get_dag_details', 'GET', '/dags/{dag_id}/details'), 'read'),
  dags(route('favorite_dag', 'POST', '/dags/{dag_id}/favorite'), 'edit'),
  dags(route('unfavorite_dag', 'POST', '/dags/{dag_id}/unfavorite'), 'edit'),
  dags(route('get_dag_source', 'GET', '/dagSources/{dag_id}'), 'read_code'),
  dags(route('get_dag_stats', 'GET', '/dagStats'), 'read', { from: 'query', param: 'dag_ids' }, unpaginated(dagList('dags'))),
  dags(route('list_dag_warnings', 'GET', '/dagWarnings'), 'read', { from: 'query', param: 'dag_id' }, dagList('dag_warnings')),
  dags(route('get_dag_versions', 'GET', '/dags/{dag_id}/dagVersions'), 'read', dagPath, dagList('dag_versions')),
  dags(route('get_dag_version', 'GET', '/dags/{dag_id}/dagVersions/{version_number}'), 'read'),
  dags(route('get_tasks', 'GET', '/dags/{dag_id}/tasks'), 'read'),
  dags(route('get_task', 'GET', '/dags/{dag_id}/tasks/{task_id}'), 'read'),
  // The file token stands for a file; every DAG defined in it is re-parsed.
  dags(route('reparse_dag_file', 'PUT', '/parseDagFile/{file_token}'), 'edit', all),
  view(route('get_dag_tags', 'GET', '/dagTags'), 'dag_tags'),

  // DAG runs.
  dags(route('get_dag_runs', 'GET', '/dags/{dag_id}/dagRuns'), 'read', dagPath, dagList('dag_runs')),
  dags(route('trigger_dag_run', 'POST', '/dags/{dag_id}/dagRuns'), 'trigger'),
  dags(route('bulk_dag_runs', 'PATCH', '/dags/{dag_id}/dagRuns'), 'edit', dagPath, {
    bulk: { field: 'dag_id', fallbackPathParam: 'dag_id', bareString: 'child', actions: { create: 'trigger', update: 'edit', delete: 'delete' } },
  }),
  dags(route('get_list_dag_runs_batch', 'POST', '/dags/{dag_id}/dagRuns/list'), 'read', dagPath, {
    batch: { bodyField: 'dag_ids' },
    ...dagList('dag_runs'),
  }),
  // With a concrete path DAG, Airflow refuses body entries naming another DAG; with `~` they may name any.
  dags(route('clear_dag_runs', 'POST', '/dags/{dag_id}/clearDagRuns'), 'clear'),
  dags(route('clear_dag_run_partitions', 'POST', '/dags/{dag_id}/clearPartitions'), 'clear'),
  dags(route('get_dag_run', 'GET', dagRun), 'read'),
  dags(route('patch_dag_run', 'PATCH', dagRun), 'edit'),
  dags(route('delete_dag_run', 'DELETE', dagRun), 'delete'),
  dags(route('clear_dag_run', 'POST', `${dagRun}/clear`), 'clear'),
  dags(route('wait_dag_run_until_finished', 'GET', `${dagRun}/wait`), 'read', dagPath, { longPoll: true }),
  dags(route('get_upstream_asset_events', 'GET', `${dagRun}/upstreamAssetEvents`), 'read', dagPath, {
    also: [check('assets', 'read', all)],
  }),

  // Backfills: checked on their DAG; changing one needs `backfill` (a version-1 policy: `trigger` or `edit`).
  dags(route('list_backfills', 'GET', '/backfills'), 'read', { from: 'query', param: 'dag_id' }, dagList('backfills')),
  backfill('create_backfill', 'POST', '/backfills', { from: 'body', field: 'dag_id' }),
  backfill('create_backfill_dry_run', 'POST', '/backfills/dry_run', { from: 'body', field: 'dag_id' }),
  dags(route('get_backfill', 'GET', '/backfills/{backfill_id}'), 'read', backfillDag),
  backfill('pause_backfill', 'PUT', '/backfills/{backfill_id}/pause', backfillDag),
  backfill('unpause_backfill', 'PUT', '/backfills/{backfill_id}/unpause', backfillDag),
  backfill('cancel_backfill', 'PUT', '/backfills/{backfill_id}/cancel', backfillDag),

  // Task instances.
  dags(route('get_task_instances', 'GET', `${dagRun}/taskInstances`), 'read', dagPath, dagList('task_instances')),
  dags(route('bulk_task_instances', 'PATCH', `${dagRun}/taskInstances`), 'edit', dagPath, {
    bulk: { field: 'dag_id', fallbackPathParam: 'dag_id', bareString: 'child', actions: { create: 'edit', update: 'edit', delete: 'delete' } },
  }),
  dags(route('get_task_instances_batch', 'POST', `${dagRun}/taskInstances/list`), 'read', dagPath, {
    batch: { bodyField: 'dag_ids' },
    ...dagList('task_instances'),
  }),
  dags(route('post_clear_task_instances', 'POST', '/dags/{dag_id}/clearTaskInstances'), 'clear'),
  dags(route('get_task_instance', 'GET', ti), 'read'),
  dags(route('patch_task_instance', 'PATCH', ti), 'edit'),
  dags(route('delete_task_instance', 'DELETE', ti), 'delete'),
  dags(route('patch_task_instance_dry_run', 'PATCH', `${ti}/dry_run`), 'edit'),
  dags(route('get_mapped_task_instances', 'GET', `${ti}/listMapped`), 'read'),
  dags(route('get_task_instance_dependencies', 'GET', `${ti}/dependencies`), 'read'),
  dags(route('get_task_instance_tries', 'GET', `${ti}/tries`), 'read'),
  dags(route('get_task_instance_try_details', 'GET', `${ti}/tries/{task_try_number}`), 'read'),
  dags(route('get_extra_links', 'GET', `${ti}/links`), 'read'),
  dags(route('get_log', 'GET', `${ti}/logs/{try_number}`), 'read_logs'),
  dags(route('get_external_log_url', 'GET', `${ti}/externalLogUrl/{try_number}`), 'read_logs'),
  dags(route('get_mapped_task_instance', 'GET', mappedTi), 'read'),
  dags(route('patch_task_instance_by_map_index', 'PATCH', mappedTi), 'edit'),
  dags(route('patch_task_instance_dry_run_by_map_index', 'PATCH', `${mappedTi}/dry_run`), 'edit'),
  dags(route('get_task_instance_dependencies_by_map_index', 'GET', `${mappedTi}/dependencies`), 'read'),
  dags(route('get_mapped_task_instance_tries', 'GET', `${mappedTi}/tries`), 'read'),
  dags(route('get_mapped_task_instance_try_details', 'GET', `${mappedTi}/tries/{task_try_number}`), 'read'),
  dags(route('patch_task_group_instances', 'PATCH', `${dagRun}/taskGroupInstances/{group_id}`), 'edit'),
  dags(route('patch_task_group_instances_dry_run', 'PATCH', `${dagRun}/taskGroupInstances/{group_id}/dry_run`), 'edit'),

  // Human-in-the-loop details (HITL items carry their DAG inside `task_instance`).
  dags(route('get_hitl_details', 'GET', `${dagRun}/hitlDetails`), 'read', dagPath, list('hitl_details', 'task_instance.dag_id')),
  dags(route('get_hitl_detail', 'GET', `${mappedTi}/hitlDetails`), 'read'),
  dags(route('update_hitl_detail', 'PATCH', `${mappedTi}/hitlDetails`), 'edit'),
  dags(route('get_hitl_detail_try_detail', 'GET', `${mappedTi}/hitlDetails/tries/{try_number}`), 'read'),

  // XComs.
  dags(route('get_xcom_entries', 'GET', `${ti}/xcomEntries`), 'read_xcom', dagPath, dagList('xcom_entries')),
  dags(route('create_xcom_entry', 'POST', `${ti}/xcomEntries`), 'write_xcom'),
  dags(route('get_xcom_entry', 'GET', `${ti}/xcomEntries/{xcom_key}`, ['xcom_key']), 'read_xcom'),
  dags(route('update_xcom_entry', 'PATCH', `${ti}/xcomEntries/{xcom_key}`, ['xcom_key']), 'write_xcom'),
  dags(route('delete_xcom_entry', 'DELETE', `${ti}/xcomEntries/{xcom_key}`, ['xcom_key']), 'write_xcom'),

  // Task state store.
  dags(route('list_task_state_store', 'GET', `${ti}/state-store`), 'read'),
  dags(route('clear_task_state_store', 'DELETE', `${ti}/state-store`), 'delete'),
  dags(route('get_task_state_store', 'GET', `${ti}/state-store/{key}`, ['key']), 'read'),
  dags(route('set_task_state_store', 'PUT', `${ti}/state-store/{key}`, ['key']), 'edit'),
  dags(route('patch_task_state_store', 'PATCH', `${ti}/state-store/{key}`, ['key']), 'edit'),
  dags(route('delete_task_state_store', 'DELETE', `${ti}/state-store/{key}`, ['key']), 'delete'),

  // Assets.
  assets(route('get_assets', 'GET', '/assets'), 'read', all, list('assets', 'id')),
  assets(route('get_asset', 'GET', '/assets/{asset_id}'), 'read'),
  assets(route('get_asset_aliases', 'GET', '/assets/aliases'), 'read', all),
  assets(route('get_asset_alias', 'GET', '/assets/aliases/{asset_alias_id}'), 'read', all),
  assets(route('get_asset_events', 'GET', '/assets/events'), 'read', { from: 'query', param: 'asset_id' }, list('asset_events', 'asset_id')),
  assets(route('create_asset_event', 'POST', '/assets/events'), 'write', { from: 'body', field: 'asset_id' }),
  // Materializing triggers a run of the asset's producing DAG, which only Airflow knows.
  assets(route('materialize_asset', 'POST', '/assets/{asset_id}/materialize'), 'write', assetPath, {
    also: [check('dags', 'trigger', all)],
  }),
  // The queued events of an asset belong to the DAGs waiting for it: filtered by DAG, like Airflow does.
  dags(route('get_asset_queued_events', 'GET', queuedEvents('/assets/{asset_id}')), 'read', all, {
    ...unpaginated(dagList('queued_events')),
    also: [check('assets', 'read', assetPath)],
  }),
  assets(route('delete_asset_queued_events', 'DELETE', queuedEvents('/assets/{asset_id}')), 'delete', assetPath, {
    also: [check('dags', 'edit', all)],
  }),
  dags(route('get_dag_asset_queued_events', 'GET', queuedEvents('/dags/{dag_id}/assets')), 'read', dagPath, {
    also: [check('assets', 'read', all)],
  }),
  dags(route('delete_dag_asset_queued_events', 'DELETE', queuedEvents('/dags/{dag_id}/assets')), 'edit', dagPath, {
    also: [check('assets', 'delete', all)],
  }),
  dags(route('get_dag_asset_queued_event', 'GET', queuedEvents('/dags/{dag_id}/assets/{asset_id}')), 'read', dagPath, {
    also: [check('assets', 'read', assetPath)],
  }),
  dags(route('delete_dag_asset_queued_event', 'DELETE', queuedEvents('/dags/{dag_id}/assets/{asset_id}')), 'edit', dagPath, {
    also: [check('assets', 'delete', assetPath)],
  }),

  // Asset state store.
  assets(route('list_asset_state_store', 'GET', '/assets/{asset_id}/state-store'), 'read'),
  assets(route('clear_asset_state_store', 'DELETE', '/assets/{asset_id}/state-store'), 'delete'),
  assets(route('get_asset_state_store', 'GET', '/assets/{asset_id}/state-store/{key}', ['key']), 'read'),
  assets(route('set_asset_state_store', 'PUT', '/assets/{asset_id}/state-store/{key}', ['key']), 'write'),
  assets(route('delete_asset_state_store', 'DELETE', '/assets/{asset_id}/state-store/{key}', ['key']), 'delete'),

  // Variables, connections, pools.
  ...keyedResource(
    'variables',
    '/variables',
    'variable_key',
    'key',
    { list: 'get_variables', create: 'post_variable', get: 'get_variable', patch: 'patch_variable', delete: 'delete_variable', bulk: 'bulk_variables' },
    'variables',
    ['variable_key'],
  ),
  ...keyedResource(
    'connections',
    '/connections',
    'connection_id',
    'connection_id',
    { list: 'get_connections', create: 'post_connection', get: 'get_connection', patch: 'patch_connection', delete: 'delete_connection', bulk: 'bulk_connections' },
    'connections',
  ),
  policy(route('test_connection', 'POST', '/connections/test'), check('connections', 'write', { from: 'body', field: 'connection_id' })),
  policy(route('enqueue_connection_test', 'POST', '/connections/enqueue-test'), check('connections', 'write', { from: 'body', field: 'connection_id' })),
  // Polled by a token header; the connection behind it is only known to Airflow.
  policy(route('get_connection_test', 'GET', '/connections/enqueue-test'), check('connections', 'read', all)),
  policy(route('create_default_connections', 'POST', '/connections/defaults'), check('connections', 'write', all)),
  ...keyedResource(
    'pools',
    '/pools',
    'pool_name',
    'name',
    { list: 'get_pools', create: 'post_pool', get: 'get_pool', patch: 'patch_pool', delete: 'delete_pool', bulk: 'bulk_pools' },
    'pools',
    ['pool_name'],
  ),

  // Deployment-wide views.
  view(route('get_config', 'GET', '/config'), 'config'),
  view(route('get_config_value', 'GET', '/config/section/{section}/option/{option}'), 'config'),
  view(route('get_import_errors', 'GET', '/importErrors'), 'import_errors'),
  view(route('get_import_error', 'GET', '/importErrors/{import_error_id}'), 'import_errors'),
  view(route('get_event_logs', 'GET', '/eventLogs'), 'event_logs'),
  view(route('get_event_log', 'GET', '/eventLogs/{event_log_id}'), 'event_logs'),
  view(route('get_jobs', 'GET', '/jobs'), 'jobs'),
  view(route('get_plugins', 'GET', '/plugins'), 'plugins'),
  view(route('import_errors', 'GET', '/plugins/importErrors'), 'plugins'),
  view(route('get_providers', 'GET', '/providers'), 'providers'),
];
