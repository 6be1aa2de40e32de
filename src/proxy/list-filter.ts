import type { Dispatcher } from 'undici';
import { invalidRequest, OAuthError } from '../errors/oauth-error.js';
import { refusedCredentials, type AirflowClient } from '../airflow/airflow-client.js';
import type { ListPaging } from '../airflow/api-versions.js';
import type { ListSpec } from '../airflow/catalog/operation.js';

/** The page size of our scans (the maximum page size of Airflow 2 and 3). */
const SCAN_PAGE = 100;

export interface ScanContext {
  client: AirflowClient;
  /** The API root of the deployment, e.g. `/api/v2`. */
  apiRoot: string;
  authorization: string;
  scanLimit: number;
  paging: ListPaging;
  /** Aborted when the caller goes away: no further page is read. */
  signal?: AbortSignal;
  /** Airflow answered 401 to `authorization` (the scan then fails with a 502): the credential mode may remember it. */
  refused?: (authorization: string) => void;
  /** Airflow answered 403 to `authorization`: true when the proxy's credentials are to blame (see `UpstreamCredentials`). */
  forbidden?: (authorization: string) => Promise<boolean>;
}

/**
 * One JSON call of a scan; a 401, Airflow 3's 403 "Invalid JWT token", or a 403 the credential mode pins on itself
 * is about the proxy's credentials, never relayed as the caller's.
 */
async function scanCall(ctx: ScanContext, method: Dispatcher.HttpMethod, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const res = await ctx.client.json(method, path, ctx.authorization, body, ctx.signal);
  if (res.status === 401 || (res.status === 403 && (res.body as { detail?: unknown } | null)?.detail === 'Invalid JWT token')) {
    ctx.refused?.(ctx.authorization);
    throw refusedCredentials();
  }
  if (res.status === 403 && (await ctx.forbidden?.(ctx.authorization))) throw refusedCredentials();
  return res;
}

function nonNegativeInt(value: string | null, name: string, fallback: number): number {
  if (value === null) return fallback;
  if (!/^\d{1,9}$/.test(value)) throw invalidRequest(`${name} must be a non-negative integer`);
  return Number(value);
}

/** The id at a dotted path (`task_instance.dag_id`); integer ids count as their decimal string. */
function itemId(item: unknown, path: string): string | undefined {
  let value: unknown = item;
  for (const key of path.split('.')) value = (value as Record<string, unknown> | null | undefined)?.[key];
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return typeof value === 'string' ? value : undefined;
}

/** Reads every page of a list from Airflow (the caller's filters kept) and keeps the items `keep` allows. */
async function scan(ctx: ScanContext, apiPath: string, query: URLSearchParams, spec: ListSpec, keep: (id: string) => boolean) {
  const kept: unknown[] = [];
  let first: Record<string, unknown> | undefined;
  for (let offset = 0; ; offset += SCAN_PAGE) {
    if (offset >= ctx.scanLimit) throw invalidRequest('the list is too long to filter for this token; narrow it with filters');
    const q = new URLSearchParams(query);
    if (spec.paginated !== false) {
      q.set('limit', String(SCAN_PAGE));
      q.set('offset', String(offset));
    }
    const qs = q.toString();
    const res = await scanCall(ctx, 'GET', qs ? `${apiPath}?${qs}` : apiPath);
    if (res.status !== 200) return { status: res.status, body: res.body, kept: undefined };
    const page = res.body as Record<string, unknown>;
    first ??= page;
    const items = page[spec.itemsKey];
    if (!Array.isArray(items)) throw new OAuthError('upstream_error', 'Airflow answered a list in an unexpected shape');
    for (const item of items) {
      const id = itemId(item, spec.idField);
      if (id !== undefined && keep(id)) kept.push(item);
    }
    const total = typeof page.total_entries === 'number' ? page.total_entries : undefined;
    if (spec.paginated === false || items.length < SCAN_PAGE || (total !== undefined && offset + SCAN_PAGE >= total)) break;
  }
  return { status: 200, body: first, kept };
}

/**
 * A list across resources for a token that may see only some: Airflow is asked for every page, the items the
 * token may not see are removed, and `total_entries` and the caller's `limit`/`offset` are applied to what is
 * left, so neither items nor counts of hidden resources leak and pagination stays correct.
 */
export async function filteredList(ctx: ScanContext, apiPath: string, rawQuery: string, spec: ListSpec, keep: (id: string) => boolean) {
  const query = new URLSearchParams(rawQuery);
  if (query.has('cursor')) throw invalidRequest('cursor pagination is not available to DAG-restricted tokens; use limit and offset');
  const asked = nonNegativeInt(query.get('limit'), 'limit', ctx.paging.defaultLimit);
  const limit = asked === 0 ? ctx.paging.zeroLimit : asked;
  const offset = nonNegativeInt(query.get('offset'), 'offset', 0);
  // Airflow 2's `fields` trims the items; without their id the proxy could not tell which ones to keep.
  const fields = query.getAll('fields');
  const idKey = spec.idField.split('.')[0]!;
  if (fields.length > 0 && !fields.some((f) => f.split(',').includes(idKey))) throw invalidRequest(`fields must include ${idKey} for this token`);
  query.delete('limit');
  query.delete('offset');
  const result = await scan(ctx, apiPath, query, spec, keep);
  if (!result.kept) return { status: result.status, body: result.body };
  return {
    status: 200,
    body: { ...result.body, [spec.itemsKey]: result.kept.slice(offset, offset + limit), total_entries: result.kept.length },
  };
}

/** The DAG ids a token may act on, found by scanning Airflow's DAG list: used to rewrite batch bodies. */
export async function permittedDagIds(ctx: ScanContext, keep: (id: string) => boolean): Promise<string[]> {
  const result = await scan(ctx, `${ctx.apiRoot}/dags`, new URLSearchParams(), { itemsKey: 'dags', idField: 'dag_id' }, keep);
  if (!result.kept) throw new OAuthError('upstream_error', 'Airflow refused to list DAGs to the proxy');
  return result.kept.map((d) => (d as { dag_id: string }).dag_id);
}

/**
 * A change to every item a filter selects, for a token that may change only some: the matching items are listed
 * (the caller's filters, paging applied to the permitted matches), and the change is sent to each one's own path.
 * Items outside the token's grant are never listed, counted or changed.
 */
export async function applyToEach(
  ctx: ScanContext,
  apiPath: string,
  rawQuery: string,
  spec: ListSpec,
  keep: (id: string) => boolean,
  method: Dispatcher.HttpMethod,
  body: unknown,
) {
  const query = new URLSearchParams(rawQuery);
  if (spec.selector) {
    // Airflow requires the selector; `all` means every item, which the listing shows without it.
    const selected = query.get(spec.selector.param);
    if (selected === null) throw invalidRequest(`${spec.selector.param} is required`);
    if (selected === spec.selector.all) query.delete(spec.selector.param);
  }
  const perItem = new URLSearchParams();
  for (const mask of query.getAll('update_mask')) perItem.append('update_mask', mask);
  query.delete('update_mask');
  const selected = await filteredList(ctx, apiPath, query.toString(), spec, keep);
  if (selected.status !== 200) return selected;
  const page = selected.body as Record<string, unknown>;
  const changed: unknown[] = [];
  for (const item of page[spec.itemsKey] as unknown[]) {
    const id = itemId(item, spec.idField)!;
    const path = `${ctx.apiRoot}${spec.each!.replace('{id}', encodeURIComponent(id))}${perItem.size ? `?${perItem.toString()}` : ''}`;
    const res = await scanCall(ctx, method, path, body);
    if (res.status !== 200) return { status: res.status, body: res.body };
    changed.push(res.body);
  }
  return { status: 200, body: { ...page, [spec.itemsKey]: changed } };
}
