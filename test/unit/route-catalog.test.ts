import type { Operation } from '../../src/airflow/catalog/operation.js';
import { RouteCatalog } from '../../src/airflow/catalog/route-catalog.js';
import { airflowV2Operations } from '../../src/airflow/catalog/v2-operations.js';

const catalog = new RouteCatalog(airflowV2Operations);
const names = (method: string, path: string) => catalog.match(method, path).map((m) => m.operation.name);
const byName = (name: string) => airflowV2Operations.find((o) => o.name === name)!;

/** A concrete path for a template: `{p}` becomes `v-p`, and a `:path` parameter gets slashes. */
function samplePath(op: Operation): { path: string; params: Record<string, string> } {
  const params: Record<string, string> = {};
  const path = op.template.replace(/\{(\w+)\}/g, (_, name: string) => {
    params[name] = op.pathParams?.includes(name) ? `${name}/a/b` : `v-${name}`;
    return params[name];
  });
  return { path, params };
}

type Segment = { kind: 'literal'; text: string } | { kind: 'param' } | { kind: 'rest' };

function segmentsOf(op: Operation): Segment[] {
  return op.template
    .slice(1)
    .split('/')
    .map((s): Segment => {
      const name = /^\{(\w+)\}$/.exec(s)?.[1];
      if (name === undefined) return { kind: 'literal', text: s };
      return op.pathParams?.includes(name) ? { kind: 'rest' } : { kind: 'param' };
    });
}

/** A path both templates match, if there is one. Handles `:path` parameters in last position only. */
function witness(a: Segment[], b: Segment[]): string[] | undefined {
  const [x, y] = [a[0], b[0]];
  if (!x || !y) return !x && !y ? [] : undefined;
  if (x.kind === 'rest' || y.kind === 'rest') {
    const [rest, other] = x.kind === 'rest' ? [a, b] : [b, a];
    if (rest.length !== 1) throw new Error('a :path parameter before the last segment: extend witness()');
    return other.map((s) => (s.kind === 'literal' ? s.text : 'v'));
  }
  if (x.kind === 'literal' && y.kind === 'literal' && x.text !== y.text) return undefined;
  const tail = witness(a.slice(1), b.slice(1));
  const text = x.kind === 'literal' ? x.text : y.kind === 'literal' ? y.text : 'v';
  return tail && [text, ...tail];
}

describe('the v2 table', () => {
  test('has 128 operations with unique names and unique (method, template)', () => {
    expect(airflowV2Operations).toHaveLength(128);
    expect(new Set(airflowV2Operations.map((o) => o.name)).size).toBe(128);
    expect(new Set(airflowV2Operations.map((o) => `${o.method} ${o.template}`)).size).toBe(128);
  });

  test('every path id source, lookup and bulk fallback names a parameter of its template', () => {
    for (const op of airflowV2Operations) {
      if (op.access !== 'policy') continue;
      const params = [...op.template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      const sources = [op.ids, ...(op.also ?? []).map((c) => c.ids)];
      for (const ids of sources) {
        if (ids.from === 'path' || ids.from === 'lookup') expect(`${op.name}: ${ids.param}`).toBe(params.includes(ids.param) ? `${op.name}: ${ids.param}` : '(not in the template)');
      }
      if (op.bulk?.fallbackPathParam) expect(params).toContain(op.bulk.fallbackPathParam);
      if (op.batch) expect(op.list).toBeDefined();
    }
  });
});

describe('RouteCatalog.methodsAt (the Allow of a 405)', () => {
  test('every method some operation has for the path, sorted', () => {
    expect(catalog.methodsAt('/dags')).toEqual(['GET', 'PATCH']);
    expect(catalog.methodsAt('/dags/etl_daily')).toEqual(['DELETE', 'GET', 'PATCH']);
    expect(catalog.methodsAt('/variables/a/b')).toEqual(['DELETE', 'GET', 'PATCH']);
  });

  test('every operation of the table lists its own method at its own path', () => {
    for (const op of airflowV2Operations) expect(catalog.methodsAt(samplePath(op).path)).toContain(op.method);
  });

  test('a path the catalog does not know has none', () => {
    expect(catalog.methodsAt('/dags/etl_daily/secretThing')).toEqual([]);
    expect(catalog.methodsAt('/dags/')).toEqual([]);
    expect(catalog.methodsAt('dags')).toEqual([]);
  });
});

describe('RouteCatalog.match', () => {
  test.each(airflowV2Operations.map((op) => [`${op.method} ${op.template}`, op] as const))('%s matches itself', (_, op) => {
    const { path, params } = samplePath(op);
    expect(catalog.match(op.method, path)).toContainEqual({ operation: op, params });
  });

  test('a :path parameter takes the rest of the path, slashes included', () => {
    expect(catalog.match('GET', '/variables/a/b/c')).toEqual([{ operation: byName('get_variable'), params: { variable_key: 'a/b/c' } }]);
    expect(catalog.match('DELETE', '/pools/x/y')).toEqual([{ operation: byName('delete_pool'), params: { pool_name: 'x/y' } }]);
    expect(catalog.match('GET', '/dags/d/dagRuns/r/taskInstances/t/xcomEntries/k/with/slashes')).toEqual([
      { operation: byName('get_xcom_entry'), params: { dag_id: 'd', dag_run_id: 'r', task_id: 't', xcom_key: 'k/with/slashes' } },
    ]);
    expect(names('PUT', '/assets/7/state-store/a/b')).toEqual(['set_asset_state_store']);
  });

  test('a plain parameter takes exactly one segment', () => {
    expect(names('GET', '/connections/a/b')).toEqual([]);
    expect(names('GET', '/dags/a/b')).toEqual([]);
  });

  test('an ambiguous path yields every interpretation, the literal one first', () => {
    expect(names('GET', '/connections/enqueue-test')).toEqual(['get_connection_test', 'get_connection']);
    expect(names('GET', '/assets/aliases')).toEqual(['get_asset_aliases', 'get_asset']);
    const ti = '/dags/d/dagRuns/r/taskInstances/t';
    expect(names('GET', `${ti}/listMapped`)).toEqual(['get_mapped_task_instances', 'get_mapped_task_instance']);
    expect(names('GET', `${ti}/logs/tries`)).toEqual(['get_log', 'get_mapped_task_instance_tries']);
    expect(names('PATCH', `${ti}/dry_run`)).toEqual(['patch_task_instance_dry_run', 'patch_task_instance_by_map_index']);
    expect(names('GET', `${ti}/xcomEntries/hitlDetails`)).toEqual(['get_xcom_entry', 'get_hitl_detail']);
    // Only the method's own templates count: no POST route has a {connection_id}.
    expect(names('POST', '/connections/enqueue-test')).toEqual(['enqueue_connection_test']);
  });

  test('the ambiguous template pairs of the table are the known ones', () => {
    const ops = airflowV2Operations;
    const pairs: string[] = [];
    for (let i = 0; i < ops.length; i++) {
      for (let j = i + 1; j < ops.length; j++) {
        const [a, b] = [ops[i]!, ops[j]!];
        if (a.method !== b.method) continue;
        const w = witness(segmentsOf(a), segmentsOf(b));
        if (!w) continue;
        pairs.push([a.name, b.name].sort().join(' ~ '));
        expect(names(a.method, `/${w.join('/')}`)).toEqual(expect.arrayContaining([a.name, b.name]));
      }
    }
    expect(pairs.sort()).toEqual(knownAmbiguities);
  });

  test('`~` is an ordinary value here (the evaluator gives it its meaning)', () => {
    expect(catalog.match('POST', '/dags/~/dagRuns/~/taskInstances/list')).toEqual([
      { operation: byName('get_task_instances_batch'), params: { dag_id: '~', dag_run_id: '~' } },
    ]);
  });

  test('segments are percent-decoded one by one, literals included', () => {
    expect(catalog.match('GET', '/dags/etl%20daily')).toEqual([{ operation: byName('get_dag'), params: { dag_id: 'etl daily' } }]);
    expect(catalog.match('GET', '/dags/%7E/dagRuns')[0]?.params).toEqual({ dag_id: '~' });
    expect(names('GET', '/%64ags')).toEqual(['get_dags']);
    expect(catalog.match('GET', '/variables/a%20b/c')[0]?.params).toEqual({ variable_key: 'a b/c' });
  });

  test('unknown paths, unknown methods and malformed escapes match nothing', () => {
    expect(names('GET', '/nope')).toEqual([]);
    expect(names('GET', '/dags/d/nope')).toEqual([]);
    expect(names('HEAD', '/monitor/health')).toEqual([]);
    expect(names('get', '/monitor/health')).toEqual([]);
    expect(names('PUT', '/variables/a')).toEqual([]);
    expect(names('GET', '/dags/%E0%A4%A')).toEqual([]);
    expect(names('GET', '')).toEqual([]);
    expect(names('GET', 'dags')).toEqual([]);
  });

  test('empty segments (trailing slash, //) are the caller to reject; here they match nothing', () => {
    expect(names('GET', '/variables/')).toEqual([]);
    expect(names('GET', '/dags/')).toEqual([]);
    expect(names('GET', '//dags')).toEqual([]);
    expect(names('GET', '/variables/a//b')).toEqual([]);
    expect(names('GET', '/')).toEqual([]);
  });

  test('a :path parameter followed by more segments tries every split', () => {
    const op = (name: string, template: string): Operation => ({ name, method: 'GET', template, pathParams: ['file'], access: 'public' });
    const files = new RouteCatalog([op('meta', '/files/{file}/meta'), op('any', '/files/{file}')]);
    expect(files.match('GET', '/files/a/b/meta')).toEqual([
      { operation: expect.objectContaining({ name: 'any' }), params: { file: 'a/b/meta' } },
      { operation: expect.objectContaining({ name: 'meta' }), params: { file: 'a/b' } },
    ]);
    expect(files.match('GET', '/files/meta/meta').map((m) => m.params.file)).toEqual(['meta/meta', 'meta']);
    expect(files.match('GET', '/files/meta').map((m) => m.operation.name)).toEqual(['any']);
  });

  test('refuses malformed templates', () => {
    const op = (template: string, pathParams?: string[]): Operation => ({ name: 'x', method: 'GET', template, access: 'public', ...(pathParams ? { pathParams } : {}) });
    expect(() => new RouteCatalog([op('/a/{b}', ['c'])])).toThrow(/pathParams c/);
    expect(() => new RouteCatalog([op('/a/x{b}')])).toThrow(/bad template segment/);
    expect(() => new RouteCatalog([op('/a//b')])).toThrow(/bad template segment/);
    expect(() => new RouteCatalog([op('/a/{b}/{b}')])).toThrow(/twice/);
    expect(() => new RouteCatalog([op('a')])).toThrow(/start with/);
  });
});

/** Pairs of operations (same method) that some path reaches both of; Airflow routes each to the one registered first. */
const knownAmbiguities: string[] = [
  'get_asset ~ get_asset_aliases',
  'get_asset ~ get_asset_events',
  'get_asset_alias ~ get_asset_queued_events',
  'get_asset_alias ~ list_asset_state_store',
  'get_connection ~ get_connection_test',
  'get_external_log_url ~ get_hitl_detail',
  'get_external_log_url ~ get_mapped_task_instance_tries',
  'get_external_log_url ~ get_task_instance_dependencies_by_map_index',
  'get_extra_links ~ get_mapped_task_instance',
  'get_hitl_detail ~ get_log',
  'get_hitl_detail ~ get_task_instance_try_details',
  'get_hitl_detail ~ get_task_state_store',
  'get_hitl_detail ~ get_xcom_entry',
  'get_hitl_detail_try_detail ~ get_task_state_store',
  'get_hitl_detail_try_detail ~ get_xcom_entry',
  'get_log ~ get_mapped_task_instance_tries',
  'get_log ~ get_task_instance_dependencies_by_map_index',
  'get_mapped_task_instance ~ get_mapped_task_instances',
  'get_mapped_task_instance ~ get_task_instance_dependencies',
  'get_mapped_task_instance ~ get_task_instance_tries',
  'get_mapped_task_instance ~ get_xcom_entries',
  'get_mapped_task_instance ~ list_task_state_store',
  'get_mapped_task_instance_tries ~ get_task_instance_try_details',
  'get_mapped_task_instance_tries ~ get_task_state_store',
  'get_mapped_task_instance_tries ~ get_xcom_entry',
  'get_mapped_task_instance_try_details ~ get_task_state_store',
  'get_mapped_task_instance_try_details ~ get_xcom_entry',
  'get_task_instance_dependencies_by_map_index ~ get_task_instance_try_details',
  'get_task_instance_dependencies_by_map_index ~ get_task_state_store',
  'get_task_instance_dependencies_by_map_index ~ get_xcom_entry',
  'patch_task_instance_by_map_index ~ patch_task_instance_dry_run',
  'patch_task_instance_dry_run_by_map_index ~ patch_task_state_store',
  'patch_task_instance_dry_run_by_map_index ~ update_xcom_entry',
  'patch_task_state_store ~ update_hitl_detail',
  'update_hitl_detail ~ update_xcom_entry',
];
