import { readFileSync } from 'node:fs';
import { operationTakesBody, type Operation } from '../../src/airflow/catalog/operation.js';
import { RouteCatalog } from '../../src/airflow/catalog/route-catalog.js';
import { airflowV1Operations } from '../../src/airflow/catalog/v1-operations.js';
import { publicFlagDisagreements } from '../helpers/public-operations-probe.js';
import { startAirflow2, type AirflowServer } from '../helpers/airflow2-server.js';

/**
 * The v1 catalog against a real Airflow 2.11 (scripts/airflow2/start.sh; the first run also installs the venv),
 * as catalog-coverage.test.ts does for v2. Set AIRFLOW2_TEST_URL to use a server that is already running.
 */
const timeout = 300_000;
const apiRoot = '/api/v1';
const methods = ['get', 'post', 'put', 'patch', 'delete'] as const;

let airflow: AirflowServer | undefined;
let baseUrl: string;
interface Parameter {
  name: string;
  in: string;
  schema?: { type?: string; format?: string };
}
interface LiveOperation {
  operationId: string;
  parameters?: Parameter[];
  requestBody?: unknown;
}
type PathItem = Partial<Record<(typeof methods)[number], LiveOperation>> & { parameters?: Parameter[] };
let spec: { paths: Record<string, PathItem>; components?: { parameters?: Record<string, Parameter> } };

beforeAll(async () => {
  if (process.env.AIRFLOW2_TEST_URL) baseUrl = process.env.AIRFLOW2_TEST_URL;
  else baseUrl = (airflow = await startAirflow2()).url;
  const res = await fetch(`${baseUrl}${apiRoot}/openapi.json`);
  expect(res.status).toBe(200);
  spec = (await res.json()) as typeof spec;
}, timeout);

afterAll(async () => {
  await airflow?.stop();
}, timeout);

const catalog = new RouteCatalog(airflowV1Operations);

/** Connexion's document keeps `$ref`s to shared parameters, and path-level parameters apart. */
function parametersOf(item: PathItem, op: LiveOperation): Parameter[] {
  const resolve = (p: Parameter & { $ref?: string }) => (p.$ref ? spec.components!.parameters![p.$ref.split('/').at(-1)!]! : p);
  return [...(item.parameters ?? []), ...(op.parameters ?? [])].map(resolve);
}

/** Every live operation with its parameters and the catalog's entry for it. */
function live(): Array<{ key: string; live: LiveOperation; parameters: Parameter[]; ours: Operation | undefined }> {
  const ours = new Map(airflowV1Operations.map((o) => [`${o.method} ${o.template}`, o]));
  const out = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const method of methods) {
      const op = item[method];
      const key = `${method.toUpperCase()} ${path}`;
      if (op) out.push({ key, live: op, parameters: parametersOf(item, op), ours: ours.get(key) });
    }
  }
  return out;
}

test(
  'the catalog classifies exactly the operations of the live OpenAPI document, under the same names',
  () => {
    const found = live();
    const ours = new Map(airflowV1Operations.map((o) => [`${o.method} ${o.template}`, o.name]));
    const liveKeys = new Set(found.map((f) => f.key));
    const problems = [
      ...found.filter((f) => !f.ours).map((f) => `not classified: ${f.key} (${f.live.operationId})`),
      ...[...ours].filter(([key]) => !liveKeys.has(key)).map(([key, name]) => `not in Airflow: ${key} (${name})`),
      ...found.filter((f) => f.ours && f.ours.name !== f.live.operationId).map((f) => `renamed: ${f.key} is ${f.live.operationId} in Airflow, ${f.ours!.name} here`),
    ];
    expect(problems).toEqual([]);
    expect(found).toHaveLength(airflowV1Operations.length);
  },
  timeout,
);

test(
  'the unit tests\' copy of the document (test/fixtures/airflow-2.11-v1-operations.json) is the live one',
  () => {
    const fixture = (JSON.parse(readFileSync('test/fixtures/airflow-2.11-v1-operations.json', 'utf8')) as { operations: Array<{ operationId: string; method: string; path: string }> }).operations;
    const key = (o: { method: string; path: string; operationId: string }) => `${o.method} ${o.path} ${o.operationId}`;
    const liveKeys = live().map((f) => `${f.key} ${f.live.operationId}`);
    expect(fixture.map(key).sort()).toEqual(liveKeys.sort());
  },
  timeout,
);

test(
  'the catalog declares exactly the array query parameters, `:path` parameters and bodies Airflow declares',
  () => {
    const drift: string[] = [];
    for (const { live: op, parameters, ours } of live()) {
      if (!ours) continue;
      const arrays = parameters.filter((p) => p.in === 'query' && p.schema?.type === 'array').map((p) => p.name).sort();
      const spans = parameters.filter((p) => p.in === 'path' && p.schema?.format === 'path').map((p) => p.name).sort();
      if (arrays.join() !== [...(ours.arrayQuery ?? [])].sort().join()) drift.push(`${ours.name}: arrays Airflow [${arrays.join(', ')}]`);
      if (spans.join() !== [...(ours.pathParams ?? [])].sort().join()) drift.push(`${ours.name}: :path Airflow [${spans.join(', ')}]`);
      if ((op.requestBody !== undefined) !== operationTakesBody(ours)) drift.push(`${ours.name}: Airflow ${op.requestBody ? 'declares' : 'declares no'} body`);
    }
    expect(drift).toEqual([]);
  },
  timeout,
);

test(
  'public-operations-are-exactly-airflows: the catalog marks `public` exactly the operations Airflow 2 serves without credentials',
  async () => {
    expect(await publicFlagDisagreements(baseUrl, apiRoot, airflowV1Operations)).toEqual([]);
  },
  timeout,
);

/**
 * Airflow 2 answers a path no route matches with 404 (405 when only the method is wrong), and a routed request
 * without credentials with 401 (200 for the public health and version, 400 for a malformed body), so an
 * unauthenticated probe tells whether it routes a path. Integer path parameters get `1` (Flask's int converter).
 */
async function isRouted(method: string, path: string): Promise<boolean> {
  const res = await fetch(`${baseUrl}${apiRoot}${path}`, { method, redirect: 'manual' });
  await res.text();
  return res.status !== 404 && res.status !== 405;
}

test(
  'Airflow routes every template, and takes a slash in a parameter exactly where the catalog does (`:path`)',
  async () => {
    // The probe tells routed from unrouted: a slash where Airflow takes none is not routed, a `:path` one is.
    expect([await isRouted('GET', '/dags/x/y'), await isRouted('GET', '/variables/x/y'), await isRouted('GET', '/no-such-route')]).toEqual([false, true, false]);
    const disagreements: string[] = [];
    for (const { parameters, ours } of live()) {
      if (!ours) continue;
      const integers = new Set(parameters.filter((p) => p.in === 'path' && p.schema?.type === 'integer').map((p) => p.name));
      const probe = (slashed?: string) => ours.template.replace(/\{(\w+)\}/g, (_, name: string) => (name === slashed ? 'x/y' : integers.has(name) ? '1' : `v-${name}`));
      const names = [...ours.template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).filter((n) => !integers.has(n));
      for (const slashed of [undefined, ...names]) {
        const path = probe(slashed);
        const routed = await isRouted(ours.method, path);
        const matched = catalog.match(ours.method, path).some((m) => m.operation === ours);
        if (routed !== matched) disagreements.push(`${ours.method} ${path} (${ours.name}): Airflow ${routed ? 'routes' : 'does not route'} it, the catalog ${matched ? 'does' : 'does not'}`);
      }
    }
    expect(disagreements).toEqual([]);
  },
  timeout,
);

/** Calls every list the proxy filters (as Admin, through basic_auth) and checks the shape the filter reads. */
test(
  'every list the proxy filters answers in the shape its ListSpec names (items key, id field, total_entries)',
  async () => {
    const admin = `Basic ${Buffer.from('admin:admin-pass').toString('base64')}`;
    const concrete: Record<string, { path: string; body?: unknown }> = {
      get_dag_stats: { path: '/dagStats?dag_ids=etl_daily,etl_hourly' },
      get_dag_runs: { path: '/dags/~/dagRuns' },
      get_task_instances: { path: '/dags/~/dagRuns/~/taskInstances' },
      get_xcom_entries: { path: '/dags/~/dagRuns/~/taskInstances/~/xcomEntries' },
      get_dag_runs_batch: { path: '/dags/~/dagRuns/list', body: {} },
      get_task_instances_batch: { path: '/dags/~/dagRuns/~/taskInstances/list', body: {} },
    };
    const problems: string[] = [];
    const checked: string[] = [];
    for (const op of airflowV1Operations) {
      if (op.access !== 'policy' || !op.list || op.list.each) continue;
      const call = concrete[op.name] ?? (op.template.includes('{') ? undefined : { path: op.template });
      if (!call) continue;
      const res = await fetch(`${baseUrl}${apiRoot}${call.path}`, {
        method: op.method,
        headers: { authorization: admin, ...(call.body !== undefined && { 'content-type': 'application/json' }) },
        body: call.body === undefined ? undefined : JSON.stringify(call.body),
      });
      const body = (await res.json()) as Record<string, unknown>;
      const items = body[op.list.itemsKey];
      checked.push(op.name);
      if (res.status !== 200 || !Array.isArray(items)) {
        problems.push(`${op.name}: ${res.status}, no ${op.list.itemsKey} list`);
        continue;
      }
      if (typeof body.total_entries !== 'number') problems.push(`${op.name}: no total_entries`);
      const idOf = (item: unknown) => op.list!.idField.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], item);
      for (const item of items) if (!['string', 'number'].includes(typeof idOf(item))) problems.push(`${op.name}: an item without ${op.list.idField}`);
    }
    expect(problems).toEqual([]);
    // The DAG and FAB lists are never empty on the test server, so their id fields were really read.
    expect(checked).toEqual(expect.arrayContaining(['get_dags', 'get_dag_stats', 'get_users', 'get_roles', 'get_pools', 'get_dag_runs_batch', 'get_task_instances_batch']));
  },
  timeout,
);
