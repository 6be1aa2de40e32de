import { OAuthError } from './oauth-error.js';

export interface ErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: { error: string; error_description?: string; [extra: string]: string | undefined };
  /**
   * How loud the log line must be: `error` when the caller is not told what happened (not one of ours, or not
   * exposed), `warn` for an exposed failure of ours or a dependency (5xx), `debug` for a refusal (4xx), or `info`
   * for a refusal marked `logLevel: 'info'`.
   */
  level: 'error' | 'warn' | 'info' | 'debug';
}

/** Where a 401 challenge points the client, and which scheme it names. */
export interface ChallengeContext {
  /** `Basic` at client-authenticated endpoints, `Bearer` at resource endpoints. */
  scheme: 'Basic' | 'Bearer';
  realm: string;
  /**
   * Repeat an exposed `error_description` as `detail`, Airflow's own error member: the proxy's answers, so the
   * clients of Airflow's API (which print `detail`) show what happened.
   */
  detail?: boolean;
}

/**
 * Turns an error into an HTTP answer (pure; `writeError` sends and logs it). Anything that is not an OAuthError is
 * a bare 500 `server_error`; an OAuthError that is not `expose`d keeps its status, code and `Retry-After` but none
 * of its text: internals, stack traces and secrets never reach the wire.
 */
export function buildErrorResponse(err: unknown, challenge: ChallengeContext): ErrorResponse {
  if (!(err instanceof OAuthError)) {
    return { status: 500, headers: { 'Cache-Control': 'no-store' }, body: { error: 'server_error' }, level: 'error' };
  }
  const headers: Record<string, string> = { 'Cache-Control': 'no-store', ...err.headers };
  if (err.retryAfter !== undefined) headers['Retry-After'] = String(Math.max(1, Math.ceil(err.retryAfter)));
  if (err.status === 401 || err.status === 403) {
    const details = err.expose ? `, error="${err.code}", error_description="${quoteSafe(err.description)}"` : `, error="${err.code}"`;
    headers['WWW-Authenticate'] = `${challenge.scheme} realm="${challenge.realm}"${err.bareChallenge ? '' : details}`;
  }
  if (!err.expose) return { status: err.status, headers, body: { error: err.code }, level: 'error' };
  return {
    status: err.status,
    headers,
    body: { ...err.extra, error: err.code, error_description: err.description, ...(challenge.detail && { detail: err.description }) },
    level: err.status >= 500 ? 'warn' : (err.logLevel ?? 'debug'),
  };
}

/** RFC 6750 §3 restricts error_description to printable ASCII without `"` and `\`. */
function quoteSafe(text: string): string {
  return text.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, '');
}
