import { OAuthError } from './oauth-error.js';

export interface ErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: { error: string; error_description?: string; [extra: string]: string | undefined };
  /** True when the error was not one of ours: log it with its stack, answer generically. */
  unexpected: boolean;
}

/** Where a 401 challenge points the client, and which scheme it names. */
export interface ChallengeContext {
  /** `Basic` at client-authenticated endpoints, `Bearer` at resource endpoints. */
  scheme: 'Basic' | 'Bearer';
  realm: string;
}

/**
 * The only place that turns an error into an HTTP answer. Anything that is not an OAuthError becomes a bare
 * `server_error`: internals, stack traces and secrets never reach the wire.
 */
export function buildErrorResponse(err: unknown, challenge: ChallengeContext): ErrorResponse {
  if (!(err instanceof OAuthError)) {
    return {
      status: 500,
      headers: { 'Cache-Control': 'no-store' },
      body: { error: 'server_error', error_description: 'internal error' },
      unexpected: true,
    };
  }
  const headers: Record<string, string> = { 'Cache-Control': 'no-store', ...err.headers };
  if (err.retryAfter !== undefined) headers['Retry-After'] = String(Math.max(1, Math.ceil(err.retryAfter)));
  if (err.status === 401 || err.status === 403) {
    headers['WWW-Authenticate'] = err.bareChallenge
      ? `${challenge.scheme} realm="${challenge.realm}"`
      : `${challenge.scheme} realm="${challenge.realm}", error="${err.code}", error_description="${quoteSafe(err.description)}"`;
  }
  return {
    status: err.status,
    headers,
    body: { ...err.extra, error: err.code, error_description: err.description },
    unexpected: false,
  };
}

/** RFC 6750 §3 restricts error_description to printable ASCII without `"` and `\`. */
function quoteSafe(text: string): string {
  return text.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, '');
}
