import type { IncomingMessage, ServerResponse } from 'node:http';
import { OAuthError } from '../errors/oauth-error.js';
import type { CorsPolicy } from './cors-policy.js';
import { addVary } from './vary.js';

/**
 * The transport side of CORS, for the proxy's plain handler and express alike: reads the request's CORS headers,
 * writes what the {@link CorsPolicy} decided.
 */

/** A CORS preflight (Fetch standard): `OPTIONS` with `Origin` and `Access-Control-Request-Method`; any other `OPTIONS` is a plain call. */
export function isPreflight(req: IncomingMessage): boolean {
  return req.method === 'OPTIONS' && req.headers.origin !== undefined && typeof req.headers['access-control-request-method'] === 'string';
}

/**
 * The CORS step of an endpoint: answers a preflight (true: the request is done), or sets the CORS headers of the
 * answer to come (false). Throws the 403 of a refused preflight.
 */
export function applyCors(res: ServerResponse, cors: CorsPolicy, req: IncomingMessage): boolean {
  if (isPreflight(req)) {
    answerPreflight(res, cors, req);
    return true;
  }
  addCorsHeaders(res, cors, req);
  return false;
}

/**
 * Sets the CORS headers of an answer that is not a preflight's, before anything is written: whatever answers later
 * (Airflow's relayed answer, a filtered list, an error) keeps them.
 */
function addCorsHeaders(res: ServerResponse, cors: CorsPolicy, req: IncomingMessage): void {
  setHeaders(res, cors.responseHeaders(req.headers.origin));
}

/**
 * Answers a preflight: 204 with the allowed methods and headers, or throws 403 `invalid_request` saying what was
 * refused (the origin, a method, a header) without the allowed lists, and without any `Access-Control-*` header.
 */
function answerPreflight(res: ServerResponse, cors: CorsPolicy, req: IncomingMessage): void {
  const verdict = cors.preflight({
    origin: req.headers.origin,
    method: req.headers['access-control-request-method'] as string,
    headers: req.headers['access-control-request-headers'],
  });
  addVary(res, 'Origin');
  if (!verdict.allowed) throw new OAuthError('invalid_request', verdict.description, { status: 403, extra: { reason: `cors-${verdict.refused}-not-allowed` } });
  setHeaders(res, verdict.headers);
  res.writeHead(204).end();
}

function setHeaders(res: ServerResponse, headers: Record<string, string>): void {
  for (const [name, value] of Object.entries(headers)) {
    if (name === 'Vary') addVary(res, value);
    else res.setHeader(name, value);
  }
}
