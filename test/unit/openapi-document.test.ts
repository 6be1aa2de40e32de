import { readFileSync } from 'node:fs';
import { apiVersions } from '../../src/airflow/api-versions.js';
import { compilePrincipal } from '../../src/policy/evaluator.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { exposeOpenApiDocument, type OpenApiDocument, type OpenApiExposure } from '../../src/proxy/openapi-document.js';
import { callableOperations } from '../../src/proxy/openapi-document-access.js';
import { airflowOpenApiDocument } from '../helpers/airflow-openapi.js';

/** The rewrite on Airflow's own documents (read from the installed Airflow 3.3.2 and 2.11.2 at test time). */

const DEPLOYMENT_URL = 'https://broker.example/airflow/prod';
const TOKEN_URL = 'https://broker.example/oauth2/token';
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];
const examplePolicy = parsePolicy('examples/policy.yaml', readFileSync('examples/policy.yaml', 'utf8'));

const airflow = { v1: airflowOpenApiDocument('v1'), v2: airflowOpenApiDocument('v2') };

function exposure(api: 'v1' | 'v2', more: Partial<OpenApiExposure> = {}): OpenApiExposure {
  const version = apiVersions[api];
  return {
    deploymentUrl: DEPLOYMENT_URL,
    tokenUrl: TOKEN_URL,
    apiRoot: version.root,
    pathsBelowRoot: version.openApi.pathsBelowRoot,
    operations: version.operations,
    include: () => true,
    ...more,
  };
}

/** `METHOD template -> operationId` of every operation a document lists, templates below the API root. */
function operationsOf(doc: OpenApiDocument, api: 'v1' | 'v2'): Map<string, string> {
  const root = apiVersions[api].openApi.pathsBelowRoot ? '' : apiVersions[api].root;
  const found = new Map<string, string>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method] as { operationId: string } | undefined;
      if (op) found.set(`${method.toUpperCase()} ${path.slice(root.length)}`, op.operationId);
    }
  }
  return found;
}

const routed = (api: 'v1' | 'v2') => new Map(apiVersions[api].operations.filter((o) => o.access !== 'never').map((o) => [`${o.method} ${o.template}`, o.name]));

describe.each(['v2', 'v1'] as const)('Airflow %s document as the proxy exposes it', (api) => {
  const exposed = exposeOpenApiDocument(airflow[api], exposure(api));

  it('servers point at the deployment through the proxy, so the documented paths resolve there', () => {
    expect(exposed.servers).toEqual([{ url: api === 'v2' ? DEPLOYMENT_URL : `${DEPLOYMENT_URL}/api/v1`, description: expect.any(String) }]);
    // Airflow 3's paths carry the API root, Airflow 2's are below it: server + path is the proxied URL either way.
    const paths = Object.keys(exposed.paths);
    if (api === 'v2') expect(paths.every((path) => path.startsWith('/api/v2/'))).toBe(true);
    else expect(paths.some((path) => path.startsWith('/api/'))).toBe(false);
  });

  it('a server of a path or an operation, which would send a client around the proxy, is dropped', () => {
    const path = api === 'v2' ? '/api/v2/dags' : '/dags';
    const bypassing = structuredClone(airflow[api]);
    const item = bypassing.paths[path]!;
    item.servers = [{ url: 'http://airflow.internal:8080' }];
    (item.get as Record<string, unknown>).servers = [{ url: 'http://airflow.internal:8080' }];
    const doc = exposeOpenApiDocument(bypassing, exposure(api));
    expect(doc.paths[path]).not.toHaveProperty('servers');
    expect(doc.paths[path]!.get).not.toHaveProperty('servers');
    expect(JSON.stringify(doc)).not.toContain('airflow.internal');
  });

  it('documents exactly the operations the catalog routes, under Airflow\'s names; never Airflow\'s own login', () => {
    expect(operationsOf(exposed, api)).toEqual(routed(api));
    if (api === 'v2') expect([...operationsOf(exposed, api).values()]).not.toEqual(expect.arrayContaining(['login']));
  });

  it('an operation Airflow documents that the catalog does not know is not documented', () => {
    const without = apiVersions[api].operations.filter((o) => o.name !== 'get_dag');
    const doc = exposeOpenApiDocument(airflow[api], exposure(api, { operations: without }));
    const ops = operationsOf(doc, api);
    expect(operationsOf(airflow[api], api).get('GET /dags/{dag_id}')).toBe('get_dag');
    expect(ops.has('GET /dags/{dag_id}')).toBe(false);
    expect(ops.get('DELETE /dags/{dag_id}')).toBe('delete_dag');
  });

  it('the proxy\'s security schemes replace Airflow\'s: OAuth2 client credentials at the broker, and bearer', () => {
    expect(exposed.components!.securitySchemes).toEqual({
      OAuth2: { type: 'oauth2', description: expect.any(String), flows: { clientCredentials: { tokenUrl: TOKEN_URL, scopes: {} } } },
      Bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: expect.any(String) },
    });
    expect(exposed.security).toEqual([{ OAuth2: [] }, { Bearer: [] }]);
    const text = JSON.stringify(exposed);
    for (const airflows of ['OAuth2PasswordBearer', 'HTTPBearer', '/auth/token', 'GoogleOpenId', 'Kerberos', '"Basic"']) expect(text).not.toContain(airflows);
    // Every operation that needs a token takes the document's security; only the ones served without one say otherwise.
    const own = Object.values(exposed.paths).flatMap((item) => METHODS.flatMap((m) => ((item[m] as Record<string, unknown> | undefined)?.security ? [(item[m] as { operationId: string }).operationId] : [])));
    expect(own.sort()).toEqual(['get_health', 'get_version']);
  });

  it('an operation the catalog serves without a token (version, health) is documented with security: []', () => {
    const root = api === 'v2' ? '/api/v2' : '';
    const served = apiVersions[api].operations.filter((o) => o.access === 'public' && o.public).map((o) => o.name);
    expect(served.sort()).toEqual(['get_health', 'get_version']);
    expect((exposed.paths[`${root}/version`]!.get as Record<string, unknown>).security).toEqual([]);
    expect((exposed.paths[`${root}${api === 'v2' ? '/monitor/health' : '/health'}`]!.get as Record<string, unknown>).security).toEqual([]);
    expect(exposed.paths[`${root}/dags`]!.get).not.toHaveProperty('security');
  });

  it('Airflow\'s document, shared between requests, is left as it was', () => {
    const before = structuredClone(airflowOpenApiDocument(api));
    exposeOpenApiDocument(airflow[api], exposure(api, { include: callableOperations(compilePrincipal(examplePolicy, { roles: ['etl-operator'], details: undefined }, 'prod')) }));
    expect(airflow[api]).toEqual(before);
  });
});

describe('a document for a token', () => {
  const etl = compilePrincipal(examplePolicy, { roles: ['etl-operator'], details: undefined }, 'prod');
  const full = exposeOpenApiDocument(airflow.v2, exposure('v2'));
  const filtered = exposeOpenApiDocument(airflow.v2, exposure('v2', { include: callableOperations(etl) }));
  const names = new Set(operationsOf(filtered, 'v2').values());

  it('lists what etl-operator may call for some DAG or variable, filtered lists included', () => {
    for (const name of ['get_dags', 'get_dag', 'trigger_dag_run', 'get_dag_runs', 'clear_dag_run', 'get_task_instances', 'get_variables', 'get_variable', 'post_variable', 'bulk_variables']) {
      expect([name, names.has(name)]).toEqual([name, true]);
    }
  });

  it('leaves out what it may not call for any resource', () => {
    for (const name of ['delete_dag', 'patch_dag', 'get_connections', 'get_pools', 'get_config', 'delete_variable', 'get_import_errors', 'get_event_logs']) {
      expect([name, names.has(name)]).toEqual([name, false]);
    }
    expect(names.size).toBeLessThan(operationsOf(full, 'v2').size);
  });

  it('filtered-document-reveals-only-which-operations: the rest is the public document, byte for byte', () => {
    expect({ ...filtered, paths: {} }).toEqual({ ...full, paths: {} });
    for (const [path, item] of Object.entries(filtered.paths)) {
      for (const [key, value] of Object.entries(item)) expect(value).toEqual(full.paths[path]![key]);
    }
    const text = JSON.stringify(filtered);
    for (const secret of ['etl-operator', 'reporting-reader', 'etl_*', 'airflow-etl']) expect(text).not.toContain(secret);
  });

  it('a token without a role lists only the operations every token may call', () => {
    const none = compilePrincipal(examplePolicy, { roles: [], details: undefined }, 'prod');
    const doc = exposeOpenApiDocument(airflow.v2, exposure('v2', { include: callableOperations(none) }));
    expect([...operationsOf(doc, 'v2').values()].sort()).toEqual(['get_health', 'get_version']);
  });
});
