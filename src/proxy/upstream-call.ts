import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Caller } from '../airflow/credentials/upstream-credentials.js';
import { upstreamAcceptEncoding } from '../http/content-coding.js';
import type { Deployment } from './deployments.js';
import type { CallerCredentials, RelayedCall } from './relay.js';

/** Request headers passed to Airflow: an allow-list. The caller's credentials, cookies and forwarding headers never are. */
const FORWARDED_REQUEST_HEADERS = ['accept', 'accept-language', 'content-type', 'if-match', 'if-none-match', 'if-modified-since'];

/** One call to Airflow on the caller's behalf, as it is sent; the proxy's `authorization` is added per try. */
export function upstreamCall(req: IncomingMessage, res: ServerResponse, path: string, body: Buffer, contentType?: string): RelayedCall {
  // Only codings the proxy can decode: it must be able to read a refusal (`relay.ts`).
  const headers: Record<string, string> = { 'x-request-id': res.getHeader('X-Request-Id') as string, 'accept-encoding': upstreamAcceptEncoding(req.headers['accept-encoding']) };
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = req.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  // Set when the proxy rewrote the body: it then says what it sends.
  if (contentType) headers['content-type'] = contentType;
  // The upstream path is the validated raw segments appended to the base: never re-resolved.
  return { method: req.method as Dispatcher.HttpMethod, path, headers, body: body.length > 0 ? body : undefined };
}

/** The proxy's credentials at Airflow for this caller: asked for once per request, fresh on a retry. */
export function callerCredentials(deployment: Deployment, caller: Caller): CallerCredentials {
  let current: Promise<string> | undefined;
  return {
    current: () => (current ??= deployment.credentials.authorization(caller)),
    fresh: () => deployment.credentials.authorization(caller),
  };
}

/**
 * The caller going away aborts the proxy's own lookups and scans at Airflow (the forwarded call is aborted by the
 * relay itself): the signal exists only once such a call asks for it.
 */
export function abortedOnClose(res: ServerResponse): () => AbortSignal {
  let signal: AbortSignal | undefined;
  return () => {
    if (signal) return signal;
    const controller = new AbortController();
    signal = controller.signal;
    const closed = () => {
      if (!res.writableFinished) controller.abort();
    };
    // Asked for after the caller left: already aborted.
    if (res.closed) closed();
    else res.once('close', closed);
    return signal;
  };
}
