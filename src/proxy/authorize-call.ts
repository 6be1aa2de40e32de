import type { MatchedOperation } from '../airflow/catalog/route-catalog.js';
import type { CompiledPrincipal } from '../policy/evaluator.js';
import { decide, type Decision } from './authorize.js';
import type { DecisionCache } from './decision-cache.js';
import { checkOperationInput } from './operation-input.js';
import { resolveChecks, type IdLookups, type ResolvedOperation } from './resolve-checks.js';

/** One API call as the decision sees it: method, path below the API root, query and parsed JSON body. */
export interface ApiCall {
  method: string;
  /** Below `/api/v2`, e.g. `/dags/etl_daily/dagRuns` (validated, still percent-encoded). */
  apiPath: string;
  query: URLSearchParams;
  body: unknown;
}

export interface CallDecision {
  matches: MatchedOperation[];
  interpretations: ResolvedOperation[];
  decision: Decision;
}

export interface OperationCatalog {
  match(method: string, path: string): MatchedOperation[];
}

/**
 * Resolve the operation, its resource ids, and decide: the one code path behind the proxy and the admin
 * `explain` tools, so an explanation is exactly the proxy's answer. `matches` is the catalog's match of this call
 * when the caller has it already (the proxy routed it before authentication). With `decisions`, a call that reads
 * nothing but its path is decided once per principal, catalog, method and path (`DecisionCache`).
 */
export async function authorizeCall(
  catalog: OperationCatalog,
  principal: CompiledPrincipal,
  call: ApiCall,
  lookups: IdLookups,
  matches: MatchedOperation[] = catalog.match(call.method, call.apiPath),
  decisions?: DecisionCache,
): Promise<CallDecision> {
  // Input the matched operations do not declare (a repeated scalar, a body where none is taken) is refused first.
  checkOperationInput(matches, call.query, call.body !== undefined);
  const known = decisions?.get(principal, catalog, call.method, call.apiPath);
  if (known) return known;
  const interpretations = await Promise.all(
    matches.map((m) => resolveChecks(m.operation, { params: m.params, query: call.query, body: call.body }, lookups)),
  );
  const decided = { matches, interpretations, decision: decide(principal, interpretations) };
  decisions?.remember(principal, catalog, call.method, call.apiPath, decided);
  return decided;
}
