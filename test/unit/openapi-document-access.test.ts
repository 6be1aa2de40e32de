import { airflowV2Operations } from '../../src/airflow/catalog/v2-operations.js';
import { compilePrincipal, type Principal } from '../../src/policy/evaluator.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { callableOperations } from '../../src/proxy/openapi-document-access.js';

/** Policy in, the operations a token's OpenAPI document lists out: each yes proven on an id by the proxy's evaluator. */

function callable(policyYaml: string, details?: Principal['details'], deployment = 'prod'): (name: string) => boolean {
  const policy = parsePolicy('policy.yaml', policyYaml);
  const may = callableOperations(compilePrincipal(policy, { roles: [...policy.roles.keys()], details }, deployment));
  return (name) => {
    const operation = airflowV2Operations.find((o) => o.name === name);
    if (!operation) throw new Error(`no operation ${name}`);
    return may(operation);
  };
}

const role = (grants: string, extra = '') => `version: 2\nroles:\n  r:\n${extra}    allow:\n${grants}`;

describe('callableOperations', () => {
  it('an operation on one DAG is listed for a token that may act on some DAG', () => {
    const may = callable(role('      - dags: ["etl_*"]\n        actions: [read]\n'));
    expect([may('get_dag'), may('trigger_dag_run'), may('get_variable')]).toEqual([true, false, false]);
  });

  it('a list across every DAG is listed when the filtered list can show one DAG', () => {
    expect(callable(role('      - dags: ["etl_*"]\n        actions: [read]\n'))('get_dags')).toBe(true);
    expect(callable(role('      - variables: ["*"]\n        actions: [read]\n'))('get_dags')).toBe(false);
  });

  it('deny-covering-every-grant-hides-the-operation', () => {
    const may = callable(`${role('      - dags: ["etl_*"]\n        actions: [read]\n')}    deny:\n      - dags: ["etl_*"]\n        actions: [read]\n`);
    expect([may('get_dag'), may('get_dags')]).toEqual([false, false]);
  });

  it('a deny on part of the grant leaves the operation listed', () => {
    const may = callable(`${role('      - dags: ["etl_*"]\n        actions: [read]\n')}    deny:\n      - dags: ["etl_secret*"]\n        actions: [read]\n`);
    expect(may('get_dag')).toBe(true);
  });

  it('narrowed-token-lists-only-what-its-narrowing-keeps', () => {
    const grants = role('      - dags: ["etl_*"]\n        actions: [read, trigger]\n      - variables: ["etl_*"]\n        actions: [read]\n');
    const may = callable(grants, [{ type: 'airflow', dags: ['etl_daily'], actions: ['read'] }]);
    expect([may('get_dag'), may('get_dags'), may('trigger_dag_run'), may('get_variable')]).toEqual([true, true, false, false]);
  });

  it('a grant and a narrowing that share ids only in the middle (etl_* and *_daily) list the operation; disjoint ones do not', () => {
    const grants = role('      - dags: ["etl_*"]\n        actions: [read]\n');
    expect(callable(grants, [{ type: 'airflow', dags: ['*_daily'], actions: ['read'] }])('get_dag')).toBe(true);
    expect(callable(grants, [{ type: 'airflow', dags: ['report_*'], actions: ['read'] }])('get_dag')).toBe(false);
  });

  it('a view is listed for a grant naming that view only', () => {
    const may = callable(role('      - views: [plugins]\n        actions: [read]\n'));
    expect([may('get_plugins'), may('get_config')]).toEqual([true, false]);
  });

  it('an operation that reaches every resource of a kind needs a grant on all of them', () => {
    const some = callable(role('      - assets: ["*"]\n        actions: [write]\n      - dags: ["etl_*"]\n        actions: [trigger]\n'));
    const every = callable(role('      - assets: ["*"]\n        actions: [write]\n      - dags: ["*"]\n        actions: [trigger]\n'));
    expect([some('materialize_asset'), every('materialize_asset')]).toEqual([false, true]);
  });

  it('a bulk operation is listed when one of its bulk actions is allowed on some id', () => {
    expect(callable(role('      - variables: ["etl_*"]\n        actions: [delete]\n'))('bulk_variables')).toBe(true);
    expect(callable(role('      - variables: ["etl_*"]\n        actions: [read]\n'))('bulk_variables')).toBe(false);
  });

  it('a grant limited to another deployment lists nothing here', () => {
    const may = callable(role('      - dags: ["etl_*"]\n        actions: [read]\n', '    deployments: [staging]\n'));
    expect([may('get_dag'), may('get_health')]).toEqual([false, true]);
  });

  it('a version-1 policy\'s trigger still lists create_backfill; under version 2 it needs backfill', () => {
    const grants = '      - dags: ["etl_*"]\n        actions: [trigger]\n';
    expect(callable(role(grants).replace('version: 2', 'version: 1'))('create_backfill')).toBe(true);
    expect(callable(role(grants))('create_backfill')).toBe(false);
  });

  it('Airflow\'s own login is never listed, whatever the token may do', () => {
    expect(callable(role('      - dags: ["*"]\n        actions: [read]\n'))('login')).toBe(false);
  });
});
