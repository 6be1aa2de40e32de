import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { ApiSurface } from '../airflow/api-versions.js';
import type { CompiledPrincipal } from '../policy/evaluator.js';
import { permits, type Decision } from './authorize.js';
import type { Deployment } from './deployments.js';
import { applyToEach, filteredList, permittedDagIds } from './list-filter.js';
import { refusal } from './refusal.js';
import type { RequestBody } from './request-body.js';
import { forward, proxyForbidden, type CallerCredentials } from './relay.js';
import { sendJson, sendList } from './send-list.js';
import { upstreamCall } from './upstream-call.js';

/** A call allowed only item by item (`Decision.filter`), with what the answer needs of the earlier stages. */
export interface FilteredCall {
  deployment: Deployment;
  surface: Pick<ApiSurface, 'root' | 'paging'>;
  method: string;
  apiPath: string;
  rawQuery: string;
  upstreamPath: string;
  body: RequestBody;
  principal: CompiledPrincipal;
  decision: Decision;
  /** The decision's `filter`: what the permitted items are of. */
  filter: NonNullable<Decision['filter']>;
  credentials: CallerCredentials;
  signal: () => AbortSignal;
}

/**
 * The answer to a call the token may make on part of what it names: a batch rewritten to the permitted DAGs, a
 * list scanned at Airflow and filtered to the permitted items, or each permitted item changed in turn.
 */
export async function answerFiltered(req: IncomingMessage, res: ServerResponse, call: FilteredCall): Promise<void> {
  const { deployment, surface, method, apiPath, body, principal, decision, credentials, filter } = call;
  const scan = {
    client: deployment.client,
    apiRoot: deployment.api.root,
    authorization: await credentials.current(),
    scanLimit: deployment.config.list_scan_limit,
    paging: surface.paging,
    signal: call.signal(),
    refused: (authorization: string) => void deployment.credentials.invalidate(authorization),
    forbidden: (authorization: string) => proxyForbidden(deployment, authorization),
  };
  if (filter.operation.batch) {
    const ids = await permittedDagIds(scan, (id) => permits(principal, filter.operation, id));
    if (ids.length === 0) return sendJson(res, 200, { [filter.list?.itemsKey ?? 'items']: [], total_entries: 0 });
    const rewritten = Buffer.from(JSON.stringify({ ...(body.json as object), [filter.operation.batch.bodyField]: ids }));
    return forward(deployment, upstreamCall(req, res, call.upstreamPath, rewritten, 'application/json'), credentials, res);
  }
  if (!filter.list) {
    const refused = { interpretation: decision.operation!, check: decision.verdicts.find((v) => !v.allowed)?.check };
    throw refusal({ reason: 'no-matching-grant', refused }, { method, path: surface.root + apiPath });
  }
  const keep = (id: string) => permits(principal, filter.operation, id);
  const result = filter.list.each
    ? await applyToEach(scan, `${surface.root}${apiPath}`, call.rawQuery, filter.list, keep, method as Dispatcher.HttpMethod, body.json)
    : await filteredList(scan, `${surface.root}${apiPath}`, call.rawQuery, filter.list, keep);
  return sendList(res, result.status, result.body, req.headers['accept-encoding']);
}
