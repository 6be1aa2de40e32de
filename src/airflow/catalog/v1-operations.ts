import { check, dagList, list, policy, routeFor, type Extras, type Row } from './catalog-rows.js';
import type { Action, viewIds } from '../../policy/vocabulary.js';
import type { BodyFlag, ExtraCheck, IdSource, Operation } from './operation.js';

/**
 * Every operation of Airflow 2's REST API (`/api/v1`, checked against 2.11.2: 62 paths, 89 operations), each
 * mapped to the policy check the proxy makes before forwarding it, in the same vocabulary as the v2 table, so
 * one policy file governs both. Written by hand from 2.11's OpenAPI document (`api_connexion/openapi/v1.yaml`)
 * and the `requires_access_*` decorators of its endpoints; `test/acceptance/catalog-coverage-v1.test.ts`
 * compares it with a live server and `docs/airflow-catalog.md` is generated from it.
 *
 * Where this table deliberately differs from Airflow's own checks:
 * - Clearing can reach other DAGs in Airflow 2: `include_subdags` follows ExternalTaskMarkers into the DAGs they
 *   name (and subdags), `include_parentdag` clears a subdag's parent. `clear_dag_run` always sets both, and
 *   committing a task state (`post_set_task_instances_state`, `patch_*task_instance` without `dry_run`) clears
 *   the failed tasks downstream with both set. Those calls also need `clear` on every DAG: a role limited to
 *   some DAGs clears a run with `post_clear_task_instances` and `dag_run_id` instead, which stays in its DAG
 *   (`include_upstream`/`include_downstream` select tasks of the same DAG only).
 * - Datasets are named by URI in v1 while asset grants match the numeric id (as in v2): an operation on a
 *   dataset URI needs a grant on every asset; dataset event lists filter by `dataset_id`.
 * - Where Airflow acts on ids only it can see (the DAGs of a file token, every DAG matching a pattern), the check
 *   is on every DAG, as in v2. Event logs are the `event_logs` view, as in v2.
 * - FAB's users, roles and permissions (`/users`, `/roles`, `/permissions`) are the `users` and `roles`
 *   resources; listing permissions is `read` on every role.
 */

const dagPath: IdSource = { from: 'path', param: 'dag_id' };
const all: IdSource = { from: 'all' };

/** Query parameters declared `type: array` in 2.11's OpenAPI document, the only ones that may repeat. */
const arrayQuery: Readonly<Record<string, readonly string[]>> = {
  get_dags: ['tags', 'fields'],
  patch_dags: ['tags', 'update_mask'],
  get_dag: ['fields'],
  patch_dag: ['update_mask'],
  get_dag_details: ['fields'],
  get_dag_runs: ['state', 'fields'],
  get_dag_run: ['fields'],
  get_task_instances: ['state', 'pool', 'queue', 'executor'],
  get_mapped_task_instances: ['state', 'pool', 'queue', 'executor'],
  patch_connection: ['update_mask'],
  patch_pool: ['update_mask'],
  patch_variable: ['update_mask'],
  patch_role: ['update_mask'],
  patch_user: ['update_mask'],
};

/** PUT, POST and PATCH operations that declare no request body. */
const withoutBody = new Set(['reparse_dag_file']);

const route = routeFor(arrayQuery, withoutBody);

const dags = (row: Row, action: Action, ids: IdSource = dagPath, extras?: Extras) => policy(row, check('dags', action, ids), extras);
const assets = (row: Row, action: Action, ids: IdSource = all, extras?: Extras) => policy(row, check('assets', action, ids), extras);
const view = (row: Row, id: (typeof viewIds)[number]) => policy(row, check('views', 'read', { from: 'fixed', id }));

/** `clear` on every DAG, for calls through which Airflow 2 clears tasks of other DAGs (see above). */
const clearsOtherDags = (when?: readonly BodyFlag[]): { also: ExtraCheck[] } => ({ also: [{ ...check('dags', 'clear', all), ...(when && { when }) }] });
/** Committing a task state (no `dry_run`, which defaults to true) clears failed tasks downstream, other DAGs included. */
const committed: readonly BodyFlag[] = [{ field: 'dry_run', is: false, default: true }];

/**
 * Variables, connections, pools and FAB users and roles share one shape: list, create, read, patch, delete.
 * `renames`: a patch may rename the item to the body's `field` (FAB users and roles; Airflow refuses a variable,
 * connection or pool body naming another key), so that name needs `write` too.
 */
function keyedResource(
  resource: 'variables' | 'connections' | 'pools' | 'users' | 'roles',
  base: string,
  param: string,
  field: string,
  names: { list: string; create: string; get: string; patch: string; delete: string },
  pathParams?: readonly string[],
  renames = false,
): Operation[] {
  const item = `${base}/{${param}}`;
  const byPath: IdSource = { from: 'path', param };
  const rename = renames ? { also: [check(resource, 'write', { from: 'body', field, optional: true })] } : {};
  return [
    policy(route(names.list, 'GET', base), check(resource, 'read', all), list(base.slice(1), field)),
    policy(route(names.create, 'POST', base), check(resource, 'write', { from: 'body', field })),
    policy(route(names.get, 'GET', item, pathParams), check(resource, 'read', byPath)),
    policy(route(names.patch, 'PATCH', item, pathParams), check(resource, 'write', byPath), rename),
    policy(route(names.delete, 'DELETE', item, pathParams), check(resource, 'delete', byPath)),
  ];
}

const dagRun = '/dags/{dag_id}/dagRuns/{dag_run_id}';
const ti = `${dagRun}/taskInstances/{task_id}`;
const mappedTi = `${ti}/{map_index}`;
const uri = ['uri'];

export const airflowV1Operations: readonly Operation[] = [
  // Unauthenticated in Airflow.
  { ...route('get_health', 'GET', '/health'), access: 'public', public: true },
  { ...route('get_version', 'GET', '/version'), access: 'public', public: true },

  // DAGs.
  dags(route('get_dags', 'GET', '/dags'), 'read', all, dagList('dags')),
  // `dag_id_pattern` (required; `~` = every DAG) selects the DAGs to pause: which ones is only known to Airflow.
  dags(route('patch_dags', 'PATCH', '/dags'), 'pause', all, {
    list: { itemsKey: 'dags', idField: 'dag_id', each: '/dags/{id}', selector: { param: 'dag_id_pattern', all: '~' } },
  }),
  dags(route('get_dag', 'GET', '/dags/{dag_id}'), 'read'),
  dags(route('patch_dag', 'PATCH', '/dags/{dag_id}'), 'pause'),
  dags(route('delete_dag', 'DELETE', '/dags/{dag_id}'), 'delete'),
  dags(route('get_dag_details', 'GET', '/dags/{dag_id}/details'), 'read'),
  dags(route('get_tasks', 'GET', '/dags/{dag_id}/tasks'), 'read'),
  dags(route('get_task', 'GET', '/dags/{dag_id}/tasks/{task_id}'), 'read'),
  // A file token stands for a file; Airflow checks every DAG defined in it.
  dags(route('get_dag_source', 'GET', '/dagSources/{file_token}'), 'read_code', all),
  dags(route('reparse_dag_file', 'PUT', '/parseDagFile/{file_token}'), 'edit', all),
  // `dag_ids` is one comma-separated string, required by Airflow.
  dags(route('get_dag_stats', 'GET', '/dagStats'), 'read', { from: 'query', param: 'dag_ids', separator: ',' }, { list: { itemsKey: 'dags', idField: 'dag_id', paginated: false } }),
  dags(route('get_dag_warnings', 'GET', '/dagWarnings'), 'read', { from: 'query', param: 'dag_id' }, dagList('dag_warnings')),

  // DAG runs.
  dags(route('get_dag_runs', 'GET', '/dags/{dag_id}/dagRuns'), 'read', dagPath, dagList('dag_runs')),
  dags(route('post_dag_run', 'POST', '/dags/{dag_id}/dagRuns'), 'trigger'),
  dags(route('get_dag_runs_batch', 'POST', '/dags/~/dagRuns/list'), 'read', all, { batch: { bodyField: 'dag_ids' }, ...dagList('dag_runs') }),
  dags(route('get_dag_run', 'GET', dagRun), 'read'),
  dags(route('update_dag_run_state', 'PATCH', dagRun), 'edit'),
  dags(route('delete_dag_run', 'DELETE', dagRun), 'delete'),
  dags(route('clear_dag_run', 'POST', `${dagRun}/clear`), 'clear', dagPath, clearsOtherDags()),
  dags(route('set_dag_run_note', 'PATCH', `${dagRun}/setNote`), 'edit'),
  dags(route('get_upstream_dataset_events', 'GET', `${dagRun}/upstreamDatasetEvents`), 'read', dagPath, { also: [check('assets', 'read', all)] }),

  // Task instances.
  dags(route('get_task_instances', 'GET', `${dagRun}/taskInstances`), 'read', dagPath, dagList('task_instances')),
  dags(route('get_task_instances_batch', 'POST', '/dags/~/dagRuns/~/taskInstances/list'), 'read', all, { batch: { bodyField: 'dag_ids' }, ...dagList('task_instances') }),
  dags(route('post_clear_task_instances', 'POST', '/dags/{dag_id}/clearTaskInstances'), 'clear', dagPath, clearsOtherDags([
    { field: 'include_subdags', is: true, default: false },
    { field: 'include_parentdag', is: true, default: false },
  ])),
  dags(route('post_set_task_instances_state', 'POST', '/dags/{dag_id}/updateTaskInstancesState'), 'edit', dagPath, clearsOtherDags(committed)),
  dags(route('get_task_instance', 'GET', ti), 'read'),
  dags(route('patch_task_instance', 'PATCH', ti), 'edit', dagPath, clearsOtherDags(committed)),
  dags(route('set_task_instance_note', 'PATCH', `${ti}/setNote`), 'edit'),
  dags(route('get_task_instance_dependencies', 'GET', `${ti}/dependencies`), 'read'),
  dags(route('get_mapped_task_instances', 'GET', `${ti}/listMapped`), 'read'),
  dags(route('get_task_instance_tries', 'GET', `${ti}/tries`), 'read'),
  dags(route('get_task_instance_try_details', 'GET', `${ti}/tries/{task_try_number}`), 'read'),
  dags(route('get_extra_links', 'GET', `${ti}/links`), 'read'),
  dags(route('get_log', 'GET', `${ti}/logs/{task_try_number}`), 'read_logs'),
  dags(route('get_mapped_task_instance', 'GET', mappedTi), 'read'),
  dags(route('patch_mapped_task_instance', 'PATCH', mappedTi), 'edit', dagPath, clearsOtherDags(committed)),
  dags(route('set_mapped_task_instance_note', 'PATCH', `${mappedTi}/setNote`), 'edit'),
  dags(route('get_mapped_task_instance_dependencies', 'GET', `${mappedTi}/dependencies`), 'read'),
  dags(route('get_mapped_task_instance_tries', 'GET', `${mappedTi}/tries`), 'read'),
  dags(route('get_mapped_task_instance_try_details', 'GET', `${mappedTi}/tries/{task_try_number}`), 'read'),

  // XComs (read only in v1).
  dags(route('get_xcom_entries', 'GET', `${ti}/xcomEntries`), 'read_xcom', dagPath, dagList('xcom_entries')),
  dags(route('get_xcom_entry', 'GET', `${ti}/xcomEntries/{xcom_key}`, ['xcom_key']), 'read_xcom'),

  // Datasets: the assets of Airflow 2, named by URI (a `:path` parameter).
  assets(route('get_datasets', 'GET', '/datasets'), 'read', all, list('datasets', 'id')),
  assets(route('get_dataset', 'GET', '/datasets/{uri}', uri), 'read'),
  assets(route('get_dataset_events', 'GET', '/datasets/events'), 'read', { from: 'query', param: 'dataset_id' }, list('dataset_events', 'dataset_id')),
  assets(route('create_dataset_event', 'POST', '/datasets/events'), 'write'),
  // The queued events of a dataset belong to the DAGs waiting for it: filtered by DAG, like Airflow does.
  dags(route('get_dataset_queued_events', 'GET', '/datasets/queuedEvent/{uri}', uri), 'read', all, {
    list: { itemsKey: 'queued_events', idField: 'dag_id', paginated: false },
    also: [check('assets', 'read', all)],
  }),
  assets(route('delete_dataset_queued_events', 'DELETE', '/datasets/queuedEvent/{uri}', uri), 'delete', all, { also: [check('dags', 'edit', all)] }),
  dags(route('get_dag_dataset_queued_events', 'GET', '/dags/{dag_id}/datasets/queuedEvent'), 'read', dagPath, { also: [check('assets', 'read', all)] }),
  dags(route('delete_dag_dataset_queued_events', 'DELETE', '/dags/{dag_id}/datasets/queuedEvent'), 'edit', dagPath, { also: [check('assets', 'delete', all)] }),
  dags(route('get_dag_dataset_queued_event', 'GET', '/dags/{dag_id}/datasets/queuedEvent/{uri}', uri), 'read', dagPath, { also: [check('assets', 'read', all)] }),
  dags(route('delete_dag_dataset_queued_event', 'DELETE', '/dags/{dag_id}/datasets/queuedEvent/{uri}', uri), 'edit', dagPath, {
    also: [check('assets', 'delete', all)],
  }),

  // Variables, connections, pools.
  ...keyedResource(
    'variables',
    '/variables',
    'variable_key',
    'key',
    { list: 'get_variables', create: 'post_variables', get: 'get_variable', patch: 'patch_variable', delete: 'delete_variable' },
    ['variable_key'],
  ),
  ...keyedResource('connections', '/connections', 'connection_id', 'connection_id', {
    list: 'get_connections',
    create: 'post_connection',
    get: 'get_connection',
    patch: 'patch_connection',
    delete: 'delete_connection',
  }),
  policy(route('test_connection', 'POST', '/connections/test'), check('connections', 'write', { from: 'body', field: 'connection_id' })),
  ...keyedResource('pools', '/pools', 'pool_name', 'name', { list: 'get_pools', create: 'post_pool', get: 'get_pool', patch: 'patch_pool', delete: 'delete_pool' }),

  // FAB's users and roles (Airflow 2 forwards these to the FAB auth manager).
  ...keyedResource('users', '/users', 'username', 'username', { list: 'get_users', create: 'post_user', get: 'get_user', patch: 'patch_user', delete: 'delete_user' }, undefined, true),
  ...keyedResource('roles', '/roles', 'role_name', 'name', { list: 'get_roles', create: 'post_role', get: 'get_role', patch: 'patch_role', delete: 'delete_role' }, undefined, true),
  policy(route('get_permissions', 'GET', '/permissions'), check('roles', 'read', all)),

  // Deployment-wide views.
  view(route('get_config', 'GET', '/config'), 'config'),
  view(route('get_value', 'GET', '/config/section/{section}/option/{option}'), 'config'),
  view(route('get_import_errors', 'GET', '/importErrors'), 'import_errors'),
  view(route('get_import_error', 'GET', '/importErrors/{import_error_id}'), 'import_errors'),
  view(route('get_event_logs', 'GET', '/eventLogs'), 'event_logs'),
  view(route('get_event_log', 'GET', '/eventLogs/{event_log_id}'), 'event_logs'),
  view(route('get_plugins', 'GET', '/plugins'), 'plugins'),
  view(route('get_providers', 'GET', '/providers'), 'providers'),
];
