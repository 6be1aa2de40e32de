import { operationTakesBody, type Operation } from '../../src/airflow/catalog/operation.js';
import { RouteCatalog } from '../../src/airflow/catalog/route-catalog.js';
import { airflowV2Operations } from '../../src/airflow/catalog/v2-operations.js';
import { startAirflow, type AirflowServer } from '../helpers/airflow-server.js';
import { publicFlagDisagreements } from '../helpers/public-operations-probe.js';

/**
 * The catalog against a real Airflow (scripts/airflow/start.sh, ~15 s; the first run also installs the venv).
 * Set AIRFLOW_TEST_URL (e.g. `http://127.0.0.1:28090`) to use a server that is already running instead.
 */
const timeout = 240_000;
const apiRoot = '/api/v2';
const methods = ['get', 'post', 'put', 'patch', 'delete'] as const;

let airflow: AirflowServer | undefined;
let baseUrl: string;
interface Schema {
  type?: string;
  anyOf?: Schema[];
  oneOf?: Schema[];
}
interface LiveOperation {
  operationId: string;
  parameters?: Array<{ name: string; in: string; schema?: Schema }>;
  requestBody?: unknown;
}
let spec: { paths: Record<string, Partial<Record<string, LiveOperation>>> };

beforeAll(async () => {
  if (process.env.AIRFLOW_TEST_URL) baseUrl = process.env.AIRFLOW_TEST_URL;
  else baseUrl = (airflow = await startAirflow()).url;
  const res = await fetch(`${baseUrl}/openapi.json`);
  expect(res.status).toBe(200);
  spec = (await res.json()) as typeof spec;
}, timeout);

afterAll(async () => {
  await airflow?.stop();
}, timeout);

const catalog = new RouteCatalog(airflowV2Operations);

test(
  'the catalog classifies exactly the operations of the live OpenAPI document, under the same names',
  () => {
    const live = new Map<string, string>();
    for (const [path, item] of Object.entries(spec.paths)) {
      expect(path.startsWith(`${apiRoot}/`)).toBe(true);
      for (const method of methods) {
        const op = item[method];
        if (op) live.set(`${method.toUpperCase()} ${path.slice(apiRoot.length)}`, op.operationId);
      }
    }
    const ours = new Map(airflowV2Operations.map((o) => [`${o.method} ${o.template}`, o.name]));
    const problems = [
      ...[...live].filter(([key]) => !ours.has(key)).map(([key, name]) => `not classified: ${key} (${name})`),
      ...[...ours].filter(([key]) => !live.has(key)).map(([key, name]) => `not in Airflow: ${key} (${name})`),
      ...[...ours]
        .filter(([key, name]) => live.has(key) && live.get(key) !== name)
        .map(([key, name]) => `renamed: ${key} is ${live.get(key)} in Airflow, ${name} here`),
    ];
    expect(problems).toEqual([]);
    expect(live.size).toBe(airflowV2Operations.length);
  },
  timeout,
);

/**
 * Airflow answers a path no route matches with 404 `{"error": "API route not found"}` (405 when only the method
 * is wrong), and a routed request without credentials with 401 (or 422 for a malformed parameter). So an
 * unauthenticated probe tells whether Airflow routes a path, e.g. whether `{pool_name}` accepts `x/y`.
 */
async function isRouted(method: string, path: string): Promise<boolean> {
  const res = await fetch(`${baseUrl}${apiRoot}${path}`, { method, redirect: 'manual' });
  const body = await res.text();
  return res.status !== 405 && !(res.status === 404 && body.includes('API route not found'));
}

function probePath(op: Operation, slashed?: string): string {
  return op.template.replace(/\{(\w+)\}/g, (_, name: string) => (name === slashed ? 'x/y' : `v-${name}`));
}

test(
  'public-operations-are-exactly-airflows: the catalog marks `public` exactly the operations Airflow serves without credentials',
  async () => {
    expect(await publicFlagDisagreements(baseUrl, apiRoot, airflowV2Operations)).toEqual([]);
  },
  timeout,
);

test(
  'Airflow routes every template, and takes a slash in a parameter exactly where the catalog does (`:path`)',
  async () => {
    const disagreements: string[] = [];
    for (const op of airflowV2Operations) {
      const probes = [undefined, ...[...op.template.matchAll(/\{(\w+)\}/g)].map((m) => m[1])];
      for (const slashed of probes) {
        const path = probePath(op, slashed);
        const routed = await isRouted(op.method, path);
        const matched = catalog.match(op.method, path).length > 0;
        if (routed !== matched) {
          disagreements.push(`${op.method} ${path} (${op.name}): Airflow ${routed ? 'routes' : 'does not route'} it, the catalog ${matched ? 'does' : 'does not'}`);
        }
      }
    }
    expect(disagreements).toEqual([]);
  },
  timeout,
);

/** Every live operation with the catalog's entry for it (the first test proves they pair up exactly). */
function paired(): Array<{ live: LiveOperation; ours: Operation }> {
  const ours = new Map(airflowV2Operations.map((o) => [`${o.method} ${o.template}`, o]));
  const pairs: Array<{ live: LiveOperation; ours: Operation }> = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const method of methods) {
      const live = item[method];
      const op = ours.get(`${method.toUpperCase()} ${path.slice(apiRoot.length)}`);
      if (live && op) pairs.push({ live, ours: op });
    }
  }
  return pairs;
}

const isArray = (s: Schema | undefined): boolean => s !== undefined && (s.type === 'array' || [...(s.anyOf ?? []), ...(s.oneOf ?? [])].some(isArray));

test(
  'the catalog declares exactly the query parameters Airflow declares as arrays (the only ones that may repeat)',
  () => {
    const drift: string[] = [];
    for (const { live, ours } of paired()) {
      const arrays = (live.parameters ?? []).filter((p) => p.in === 'query' && isArray(p.schema)).map((p) => p.name).sort();
      const declared = [...(ours.arrayQuery ?? [])].sort();
      if (arrays.join() !== declared.join()) drift.push(`${ours.name}: Airflow [${arrays.join(', ')}], catalog [${declared.join(', ')}]`);
    }
    expect(drift).toEqual([]);
  },
  timeout,
);

test(
  'the catalog says exactly which operations take a request body',
  () => {
    const drift = paired()
      .filter(({ live, ours }) => (live.requestBody !== undefined) !== operationTakesBody(ours))
      .map(({ live, ours }) => `${ours.name}: Airflow ${live.requestBody !== undefined ? 'declares' : 'declares no'} body`);
    expect(drift).toEqual([]);
  },
  timeout,
);

