import { readFileSync } from 'node:fs';
import { apiVersions } from '../../src/airflow/api-versions.js';
import { operationTakesBody, type PolicyOperation } from '../../src/airflow/catalog/operation.js';
import { airflowV1Operations } from '../../src/airflow/catalog/v1-operations.js';
import { airflowV2Operations } from '../../src/airflow/catalog/v2-operations.js';
import { authorizeCall } from '../../src/proxy/authorize-call.js';
import type { IdLookups } from '../../src/proxy/resolve-checks.js';
import { compilePrincipal } from '../../src/policy/evaluator.js';
import { parsePolicy, readPolicyFile } from '../../src/policy/policy-file.js';
import { resourceActions } from '../../src/policy/vocabulary.js';

/** 2.11.2's operations as its OpenAPI document declares them (test/fixtures/airflow-2.11-v1-operations.json). */
interface SpecOperation {
  operationId: string;
  method: string;
  path: string;
  arrayQuery: string[];
  pathFormat: string[];
  body: boolean;
}
const spec = (JSON.parse(readFileSync('test/fixtures/airflow-2.11-v1-operations.json', 'utf8')) as { operations: SpecOperation[] }).operations;

const catalog = apiVersions.v1.catalog;
const byName = new Map(airflowV1Operations.map((o) => [o.name, o]));
const policyOps = airflowV1Operations.filter((o): o is PolicyOperation => o.access === 'policy');

describe('the v1 table against Airflow 2.11.2', () => {
  test('classifies exactly the operations of the OpenAPI document, under the same names (none unclassified)', () => {
    const unclassified = spec.filter((s) => byName.get(s.operationId)?.template !== s.path || byName.get(s.operationId)?.method !== s.method);
    expect(unclassified.map((s) => `${s.method} ${s.path} (${s.operationId})`)).toEqual([]);
    const unknown = airflowV1Operations.filter((o) => !spec.some((s) => s.operationId === o.name));
    expect(unknown.map((o) => o.name)).toEqual([]);
    expect(airflowV1Operations).toHaveLength(89);
    expect(new Set(airflowV1Operations.map((o) => `${o.method} ${o.template}`)).size).toBe(89);
    expect(new Set(spec.map((s) => s.path)).size).toBe(62);
  });

  test('declares the array query parameters, `:path` parameters and bodies the document declares', () => {
    const drift = spec.flatMap((s) => {
      const op = byName.get(s.operationId)!;
      const problems: string[] = [];
      if ([...(op.arrayQuery ?? [])].sort().join() !== s.arrayQuery.join()) problems.push(`${op.name}: arrays ${s.arrayQuery.join()} in Airflow`);
      if ([...(op.pathParams ?? [])].sort().join() !== s.pathFormat.join()) problems.push(`${op.name}: :path ${s.pathFormat.join()} in Airflow`);
      if (operationTakesBody(op) !== s.body) problems.push(`${op.name}: body ${s.body} in Airflow`);
      return problems;
    });
    expect(drift).toEqual([]);
  });

  test.each(airflowV1Operations.map((op) => [`${op.method} ${op.template}`, op] as const))('%s matches itself and is classified', (_, op) => {
    const path = op.template.replace(/\{(\w+)\}/g, (_m, name: string) => (op.pathParams?.includes(name) ? `${name}/a/b` : `v-${name}`));
    expect(catalog.match(op.method, path).map((m) => m.operation)).toContain(op);
    if (op.access !== 'policy') return expect(['get_health', 'get_version']).toContain(op.name);
    expect(resourceActions[op.resource] as readonly string[]).toContain(op.action);
    for (const extra of op.also ?? []) expect(resourceActions[extra.resource] as readonly string[]).toContain(extra.action);
  });

  test('every path id source names a parameter of its template; every batch is a list', () => {
    for (const op of policyOps) {
      const params = [...op.template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const ids of [op.ids, ...(op.also ?? []).map((c) => c.ids)]) if (ids.from === 'path') expect(params).toContain(ids.param);
      if (op.batch) expect(op.list).toBeDefined();
    }
  });
});

/** One policy file governs both versions: an operation both APIs have needs the same permission in both. */
describe('the same permission in v1 and v2', () => {
  const v2 = new Map(airflowV2Operations.map((o) => [o.name, o]));
  /** v1 ids that v2 takes from elsewhere, each for a reason the v1 table documents. */
  const differentIds: Record<string, string> = {
    get_dag_source: 'v1 names a file token, v2 a DAG id',
    get_dag_stats: 'v1 dag_ids is one comma-separated string',
    get_dag_runs_batch: 'v1 has a literal ~ path',
    get_task_instances_batch: 'v1 has a literal ~ path',
  };
  const shared = airflowV1Operations.filter((o) => v2.has(o.name));

  test.each(shared.map((o) => [o.name, o, v2.get(o.name)!] as const))('%s', (name, v1op, v2op) => {
    expect(v1op.access).toBe(v2op.access);
    if (v1op.access !== 'policy' || v2op.access !== 'policy') return;
    expect([v1op.resource, v1op.action]).toEqual([v2op.resource, v2op.action]);
    if (!differentIds[name]) expect(v1op.ids).toEqual(v2op.ids);
    expect(v1op.list?.itemsKey).toBe(v2op.list?.itemsKey);
    expect(Boolean(v1op.batch)).toBe(Boolean(v2op.batch));
  });

  test('most operations exist under the same name in both', () => {
    expect(shared.length).toBeGreaterThan(50);
  });
});

const example = readPolicyFile('examples/policy.yaml');
const noLookups: IdLookups = { backfillDag: () => Promise.resolve(undefined) };

async function decideV1(policy: ReturnType<typeof readPolicyFile>, roles: string[], method: string, pathAndQuery: string, body?: unknown) {
  const [path, query = ''] = pathAndQuery.split('?');
  const principal = compilePrincipal(policy, { roles, details: undefined }, undefined);
  return authorizeCall(catalog, principal, { method, apiPath: path!, query: new URLSearchParams(query), body }, noLookups);
}
const verdict = async (...args: Parameters<typeof decideV1>) => {
  const { decision } = await decideV1(...args);
  return decision.allowed ? (decision.filter ? 'filter' : 'allow') : 'deny';
};
const etl = ['etl-operator'];

describe('v1 list and batch semantics on the example policy (etl-operator: read, trigger, clear on etl_*)', () => {
  test.each([
    ['GET', '/dags', 'filter'],
    ['GET', '/dags/etl_daily', 'allow'],
    ['GET', '/dags/payroll_monthly', 'deny'],
    ['GET', '/dags/~/dagRuns', 'filter'],
    ['GET', '/dags/~/dagRuns/~/taskInstances', 'filter'],
    ['GET', '/dags/~/dagRuns/~/taskInstances/~/xcomEntries', 'deny'],
    ['POST', '/dags/etl_daily/dagRuns', 'allow'],
    ['POST', '/dags/payroll_monthly/dagRuns', 'deny'],
    ['GET', '/dagWarnings', 'filter'],
    ['GET', '/dagWarnings?dag_id=etl_daily', 'allow'],
    ['GET', '/dagWarnings?dag_id=payroll_monthly', 'deny'],
  ])('%s %s: %s', async (method, path, expected) => {
    expect(await verdict(example, etl, method, path)).toBe(expected);
  });

  test.each([
    ['absent', undefined, 'filter'],
    ['null', { dag_ids: null }, 'filter'],
    ['empty', { dag_ids: [] }, 'filter'],
    ['permitted', { dag_ids: ['etl_daily', 'etl_hourly'] }, 'allow'],
    ['one other DAG among them', { dag_ids: ['etl_daily', 'payroll_monthly'] }, 'deny'],
    ['not a list of strings', { dag_ids: 'etl_daily' }, 'deny'],
  ])('the batch lists with dag_ids %s: %s', async (_, body, expected) => {
    expect(await verdict(example, etl, 'POST', '/dags/~/dagRuns/list', body)).toBe(expected);
    expect(await verdict(example, etl, 'POST', '/dags/~/dagRuns/~/taskInstances/list', body)).toBe(expected);
  });

  test('the batch lists are literal ~ paths: another DAG in their place is no operation', async () => {
    expect((await decideV1(example, etl, 'POST', '/dags/etl_daily/dagRuns/list', {})).matches).toEqual([]);
  });

  test('PATCH /dags with a pattern is a change applied item by item to the DAGs the token may pause', async () => {
    const admin = parsePolicy('test.yaml', 'version: 2\nroles:\n  pauser:\n    allow:\n      - { dags: ["etl_*"], actions: [read, pause] }\n');
    const { decision } = await decideV1(admin, ['pauser'], 'PATCH', '/dags?dag_id_pattern=etl&update_mask=is_paused', { is_paused: true });
    expect(decision.allowed).toBe(true);
    expect(decision.filter?.list).toMatchObject({ each: '/dags/{id}', selector: { param: 'dag_id_pattern', all: '~' } });
  });
});

describe('FAB users, roles and permissions', () => {
  const fab = parsePolicy(
    'fab.yaml',
    [
      'version: 2',
      'roles:',
      '  user-admin:',
      '    allow:',
      '      - { users: ["*"], actions: [read, write, delete] }',
      '      - { roles: ["*"], actions: [read] }',
      '  svc-admin:',
      '    allow:',
      '      - { users: ["svc-*"], actions: [read, write] }',
      '  role-admin:',
      '    allow:',
      '      - { roles: ["svc-*"], actions: [read, write] }',
      '  dag-admin:',
      '    allow:',
      '      - { dags: ["*"], actions: [read, trigger, clear, pause, edit, delete] }',
      '',
    ].join('\n'),
  );

  test.each([
    ['user-admin', 'GET', '/users', undefined, 'allow'],
    ['user-admin', 'POST', '/users', { username: 'alice', roles: [{ name: 'Viewer' }] }, 'allow'],
    ['user-admin', 'DELETE', '/users/alice', undefined, 'allow'],
    ['user-admin', 'GET', '/roles', undefined, 'allow'],
    ['user-admin', 'GET', '/permissions', undefined, 'allow'],
    ['user-admin', 'POST', '/roles', { name: 'New', actions: [] }, 'deny'],
    ['svc-admin', 'GET', '/users', undefined, 'filter'],
    ['svc-admin', 'PATCH', '/users/svc-etl', { roles: [] }, 'allow'],
    ['svc-admin', 'PATCH', '/users/alice', { roles: [] }, 'deny'],
    // A rename needs write on the new name too, as on Airflow 3's /auth/fab/v1.
    ['svc-admin', 'PATCH', '/users/svc-etl', { username: 'alice' }, 'deny'],
    ['svc-admin', 'PATCH', '/users/svc-etl', { username: 'svc-etl2' }, 'allow'],
    ['role-admin', 'PATCH', '/roles/svc-a', { name: 'Admin' }, 'deny'],
    ['role-admin', 'PATCH', '/roles/svc-a', { name: 'svc-b' }, 'allow'],
    ['role-admin', 'PATCH', '/roles/svc-a', { actions: [] }, 'allow'],
    ['svc-admin', 'POST', '/users', { username: 'alice' }, 'deny'],
    ['svc-admin', 'DELETE', '/users/svc-etl', undefined, 'deny'],
    ['svc-admin', 'GET', '/permissions', undefined, 'deny'],
    ['dag-admin', 'GET', '/users', undefined, 'deny'],
    ['dag-admin', 'GET', '/users/admin', undefined, 'deny'],
    ['dag-admin', 'GET', '/roles/Admin', undefined, 'deny'],
    ['dag-admin', 'GET', '/permissions', undefined, 'deny'],
  ])('%s: %s %s is %s', async (role, method, path, body, expected) => {
    expect(await verdict(fab, [role], method, path, body)).toBe(expected);
  });

  test('the example policy grants user management to none of its roles', async () => {
    const calls = [['GET', '/users'], ['POST', '/users'], ['GET', '/roles'], ['GET', '/permissions'], ['DELETE', '/roles/Admin']] as const;
    for (const role of example.roles.keys()) {
      for (const [method, path] of calls) {
        const body = method === 'POST' ? { username: 'x' } : undefined;
        expect(`${role} ${method} ${path}: ${await verdict(example, [role], method, path, body)}`).toBe(`${role} ${method} ${path}: deny`);
      }
    }
  });
});
