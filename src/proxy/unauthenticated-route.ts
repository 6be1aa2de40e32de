import type { ApiSurface } from '../airflow/api-versions.js';
import type { MatchedOperation } from '../airflow/catalog/route-catalog.js';
import { OAuthError } from '../errors/oauth-error.js';

/** The part of a route catalog this stage reads. */
export interface MethodCatalog {
  match(method: string, path: string): MatchedOperation[];
  methodsAt(path: string): string[];
}

/** The operations a call matched, and whether every one of them is `public` (served without a token). */
export interface RoutedCall {
  matches: MatchedOperation[];
  public: boolean;
}

/**
 * What the catalog answers before any token is read, since neither answer says anything secret:
 * - a path the catalog knows, with a method it has no operation for (HEAD, PUT on `/dags`, OPTIONS outside a CORS
 *   preflight): 405 `invalid_request` with `Allow`, as Airflow answers before it authenticates. Never a scope
 *   refusal, which would send a developer to ask for more scope;
 * - a path the catalog does not know on an API whose unknown paths are `not-found` (FAB's `/auth/fab/v1`): 404,
 *   as for every other path below `/auth`;
 * - a call whose every interpretation is a `public` operation (Airflow's version and health): `public`, to be
 *   served without a token;
 * - anything else: authenticate. The matches are handed on to the decision, which need not match again.
 *
 * Airflow 3.3.2 (FastAPI 0.136) registers no HEAD route for a GET one, and Starlette's 405 lists the methods of
 * the first route that matched the path only; `Allow` here lists every method the catalog has for the path.
 */
export function unauthenticatedRoute(api: Pick<ApiSurface, 'root' | 'unknownPaths'> & { catalog: MethodCatalog }, method: string, apiPath: string): RoutedCall {
  const { catalog, root } = api;
  const matches = catalog.match(method, apiPath);
  if (matches.length === 0) {
    const allowed = catalog.methodsAt(apiPath);
    if (allowed.length > 0) {
      throw new OAuthError('invalid_request', `method ${method} is not allowed on ${root}${apiPath} (allowed: ${allowed.join(', ')})`, {
        status: 405,
        headers: { Allow: allowed.join(', ') },
      });
    }
    if (api.unknownPaths === 'not-found') throw new OAuthError('invalid_request', `no such operation below ${root}`, { status: 404 });
    return { matches, public: false };
  }
  return { matches, public: matches.every((m) => m.operation.public) };
}
