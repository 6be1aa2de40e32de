import type { AirflowClient } from '../../src/airflow/airflow-client.js';
import { apiVersions, fabAuthApi, type ApiSurface } from '../../src/airflow/api-versions.js';
import { filteredList } from '../../src/proxy/list-filter.js';

/**
 * A filtered list answers the caller's `limit` as its API would: absent is the API's default page, and `limit=0`
 * is what that API makes of it (Airflow 3: no items; Airflow 2: its default, 100; FAB's `/auth/fab/v1`:
 * `[api] fallback_page_limit`, 50, though its default is 100). 120 users live at Airflow; every one is permitted.
 */
const users = Array.from({ length: 120 }, (_, i) => ({ username: `svc-${i}` }));
const client = {
  json(_method: string, path: string) {
    const q = new URL(path, 'http://airflow').searchParams;
    const offset = Number(q.get('offset') ?? 0);
    const limit = Number(q.get('limit') ?? 100);
    return Promise.resolve({ status: 200, body: { users: users.slice(offset, offset + limit), total_entries: users.length } });
  },
} as unknown as AirflowClient;

const spec = { itemsKey: 'users', idField: 'username' };
const listed = async (api: ApiSurface, query: string) => {
  const ctx = { client, apiRoot: '/api/v2', authorization: 'Bearer x', scanLimit: 1000, paging: api.paging };
  const result = await filteredList(ctx, `${api.root}/users`, query, spec, () => true);
  const body = result.body as { users: unknown[]; total_entries: number };
  return { items: body.users.length, total: body.total_entries };
};

it.each([
  ['fab', '', 100, fabAuthApi],
  ['fab', 'limit=0', 50, fabAuthApi],
  ['fab', 'limit=7', 7, fabAuthApi],
  ['v2', '', 50, apiVersions.v2],
  ['v2', 'limit=0', 0, apiVersions.v2],
  ['v1', '', 100, apiVersions.v1],
  ['v1', 'limit=0', 100, apiVersions.v1],
] as const)('%s ?%s answers %d items, all 120 counted', async (_, query, items, api) => {
  expect(await listed(api, query)).toEqual({ items, total: 120 });
});
