import { RouteCatalog } from '../../src/airflow/catalog/route-catalog.js';
import { airflowV2Operations } from '../../src/airflow/catalog/v2-operations.js';
import { OAuthError } from '../../src/errors/oauth-error.js';
import { checkOperationInput } from '../../src/proxy/operation-input.js';

const catalog = new RouteCatalog(airflowV2Operations);
const check = (method: string, path: string, query: string, hasBody = false) =>
  () => checkOperationInput(catalog.match(method, path), new URLSearchParams(query), hasBody);

describe('query parameters against the operation', () => {
  it.each([
    ['repeated-single-valued-query-parameter', 'PATCH', '/dags', 'dag_id_pattern=etl_&dag_id_pattern=%25'],
    ['repeated-limit', 'GET', '/dags/etl_daily/dagRuns', 'limit=1&limit=100'],
    ['repeated-name-spelled-two-ways', 'GET', '/dags/etl_daily/dagRuns', 'limit=1&%6Cimit=100'],
    ['repeated-unknown-name', 'GET', '/dags/etl_daily', 'x=1&x=2'],
    ['repeated-on-unknown-operation', 'GET', '/nothing', 'x=1&x=2'],
    ['array-of-another-operation', 'GET', '/dags/etl_daily', 'update_mask=a&update_mask=b'],
  ])('%s is refused', (_name, method, path, query) => {
    expect(check(method, path, query)).toThrow(OAuthError);
  });

  it.each([
    ['GET', '/dags', 'tags=a&tags=b&order_by=dag_id&order_by=-last_run&limit=5'],
    ['PATCH', '/dags', 'update_mask=is_paused&update_mask=x&dag_id_pattern=etl_'],
    ['GET', '/dagStats', 'dag_ids=a&dag_ids=b'],
    ['GET', '/dags/etl_daily', 'x=1&y=1'],
  ])('%s %s?%s passes', (method, path, query) => {
    expect(check(method, path, query)).not.toThrow();
  });
});

describe('bodies against the operation', () => {
  it.each([
    ['POST', '/dags/etl_daily/favorite'],
    ['PUT', '/backfills/1/pause'],
    ['PUT', '/parseDagFile/abc'],
    ['GET', '/dags/etl_daily'],
  ])('body-on-bodyless-operation %s %s is refused', (method, path) => {
    expect(check(method, path, '', true)).toThrow(/takes no request body/);
  });

  it('an operation that declares a body takes one', () => {
    expect(check('POST', '/dags/etl_daily/dagRuns', '', true)).not.toThrow();
  });
});
