/**
 * The closed vocabulary of error codes this service puts on the wire.
 * RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1, RFC 8707 §2, RFC 9396 §5.
 */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  /** `GET /oauth2/authorize` (RFC 6749 §4.1.2.1), only ever redirected to the client. */
  | 'unsupported_response_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'invalid_authorization_details'
  | 'unsupported_token_type'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'temporarily_unavailable'
  | 'server_error'
  /** The proxy could not get an answer from Airflow (502) or not in time (504). */
  | 'upstream_error'
  | 'upstream_timeout'
  /** OpenID Connect Core §3.1.2.6: a person's session is needed (none, ended, or timed out): log in. */
  | 'login_required';

const defaultStatus: Record<OAuthErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  unsupported_response_type: 400,
  invalid_scope: 400,
  invalid_target: 400,
  invalid_authorization_details: 400,
  unsupported_token_type: 400,
  invalid_token: 401,
  insufficient_scope: 403,
  temporarily_unavailable: 503,
  server_error: 500,
  upstream_error: 502,
  upstream_timeout: 504,
  login_required: 401,
};

export interface OAuthErrorOptions {
  status?: number;
  /** Seconds, sent as `Retry-After`. */
  retryAfter?: number;
  /** Extra response headers (e.g. `Allow` on 405). */
  headers?: Record<string, string>;
  /** Internal detail for logs only; never sent to the client. */
  cause?: unknown;
  /** Extra body members that are safe to send (e.g. the proxy's `reason` id). */
  extra?: Record<string, string>;
  /** RFC 6750 §3.1: a request with no credentials at all gets a challenge without error details. */
  bareChallenge?: boolean;
  /**
   * May the description (and `extra`) reach the caller? Default: yes for client errors (4xx) and for the
   * dependency failures a caller acts on (`temporarily_unavailable`, `upstream_error`, `upstream_timeout`);
   * no for `server_error` and any other 5xx. An error not exposed is answered with its code alone, and its
   * description goes to the log at error level.
   */
  expose?: boolean;
  /**
   * A refusal (4xx) is logged at debug; `info` for one an operator should see without debug logging, e.g. a subject
   * token signed with an algorithm its directory's allow-list refuses (a directory that changed its keys).
   */
  logLevel?: 'info';
}

/** 5xx codes whose descriptions are written for callers: they say which dependency failed and that a retry may help. */
const CALLER_FACING_5XX: ReadonlySet<OAuthErrorCode> = new Set(['temporarily_unavailable', 'upstream_error', 'upstream_timeout']);

/**
 * A protocol error with a stable code. Its description reaches the client only when `expose` is true (oidc-provider's
 * rule): e.g. `new OAuthError('invalid_scope', 'scope etl is not bound to this client')` is answered as it is, while
 * `new OAuthError('server_error', 'no signing key is active')` is answered `{"error":"server_error"}` and logged.
 */
export class OAuthError extends Error {
  readonly code: OAuthErrorCode;
  readonly status: number;
  readonly description: string;
  readonly retryAfter: number | undefined;
  readonly headers: Record<string, string>;
  readonly extra: Record<string, string>;
  readonly bareChallenge: boolean;
  readonly expose: boolean;
  readonly logLevel: 'info' | undefined;

  constructor(code: OAuthErrorCode, description: string, options: OAuthErrorOptions = {}) {
    super(description, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OAuthError';
    this.code = code;
    this.description = description;
    this.status = options.status ?? defaultStatus[code];
    this.retryAfter = options.retryAfter;
    this.headers = options.headers ?? {};
    this.extra = options.extra ?? {};
    this.bareChallenge = options.bareChallenge ?? false;
    this.expose = options.expose ?? (this.status < 500 || CALLER_FACING_5XX.has(code));
    this.logLevel = options.logLevel;
  }
}

export const invalidRequest = (description: string, cause?: unknown) =>
  new OAuthError('invalid_request', description, { cause });

/** Credentials failures always read the same, whatever failed: unknown client and wrong secret are indistinguishable. */
export const invalidClient = (cause?: unknown) =>
  new OAuthError('invalid_client', 'client authentication failed', { cause });

export const directoryUnavailable = (cause?: unknown, retryAfter = 5) =>
  new OAuthError('temporarily_unavailable', 'the central directory is unavailable, retry later', {
    retryAfter,
    cause,
  });
