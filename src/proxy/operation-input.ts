import { operationTakesBody } from '../airflow/catalog/operation.js';
import type { MatchedOperation } from '../airflow/catalog/route-catalog.js';
import { invalidRequest } from '../errors/oauth-error.js';

/**
 * Refuses input the operations a path can mean do not declare, so the proxy and Airflow cannot read it
 * differently: a query parameter repeated where it is not an array in every one of them (Airflow reads the
 * last of a repeated scalar; names compared decoded, as Airflow reads them, `%6Cimit` is `limit`), including
 * names no operation declares, and a body where one of them takes none.
 */
export function checkOperationInput(matches: readonly MatchedOperation[], query: URLSearchParams, hasBody: boolean): void {
  if (hasBody && matches.some((m) => !operationTakesBody(m.operation))) throw invalidRequest('this operation takes no request body');
  const seen = new Set<string>();
  for (const name of query.keys()) {
    if (!seen.has(name)) {
      seen.add(name);
      continue;
    }
    if (matches.length === 0 || !matches.every((m) => m.operation.arrayQuery?.includes(name))) {
      throw invalidRequest(`query parameter ${name.slice(0, 64)} may appear only once`);
    }
  }
}
