import * as oidc from 'openid-client';
import { directoryUnavailable, invalidClient, OAuthError } from '../errors/oauth-error.js';

/** How long a caller should wait before retrying while the broker's directory configuration is refused. */
const MISCONFIGURED_RETRY_AFTER_SEC = 30;

/**
 * The boundary: openid-client and network errors of the client-credentials check become our errors, keeping
 * the original as `cause`. The directory's RFC 6749 answer is kept where it is about the caller's client; a
 * refusal of what the broker itself asks for (scope, resource, grant type: all from the broker's
 * configuration) is a server-side fault, and only an unreachable or failing directory is "unavailable".
 *
 * | the directory answers | the caller gets |
 * | --- | --- |
 * | `invalid_client`, `invalid_grant`, any 401 | 401 `invalid_client` (unknown client and wrong secret stay alike) |
 * | `unauthorized_client` | 400 `unauthorized_client` |
 * | `invalid_request` | 400 `invalid_request` with the directory's description |
 * | `invalid_scope`, `invalid_target`, `unsupported_grant_type`, another 4xx code | 503, "directory configuration" |
 * | 400, 413, 414, 431 without an OAuth body (e.g. a huge `client_id`) | 401 `invalid_client` |
 * | 5xx, `temporarily_unavailable`, `server_error`, no answer | 503, "directory is unavailable" |
 */
export function toDirectoryError(err: unknown): OAuthError {
  if (err instanceof OAuthError) return err;
  if (err instanceof oidc.ResponseBodyError) return fromOAuthAnswer(err.status, err.error, err.error_description, err);
  if (err instanceof oidc.WWWAuthenticateChallengeError) {
    return fromOAuthAnswer(err.status, err.cause[0]?.parameters.error, err.cause[0]?.parameters.error_description, err);
  }
  const status = err instanceof oidc.ClientError && err.cause instanceof Response ? err.cause.status : undefined;
  if (status !== undefined && REFUSED_INPUT.has(status)) return invalidClient(err);
  if (status !== undefined && status >= 400 && status < 500) return misconfigured(err);
  return directoryUnavailable(err);
}

/** Answers without an OAuth body that refuse what the caller sent (401, or its credentials too large to read). */
const REFUSED_INPUT = new Set([400, 401, 413, 414, 431]);

function fromOAuthAnswer(status: number, code: string | undefined, description: string | undefined, cause: unknown): OAuthError {
  if (status >= 500 || code === 'temporarily_unavailable' || code === 'server_error') return directoryUnavailable(cause);
  if (status === 401 || code === 'invalid_client' || code === 'invalid_grant') return invalidClient(cause);
  if (code === 'unauthorized_client') return new OAuthError('unauthorized_client', 'the central directory does not allow this client the client_credentials grant', { cause });
  if (code === 'invalid_request') return new OAuthError('invalid_request', `the central directory refused the request: ${printable(description)}`, { cause });
  return misconfigured(cause);
}

/**
 * The directory's own token does not fit what the broker is configured to accept from it: its `aud` is not
 * `client_credentials.audience` (Keycloak's default `account` without an audience mapper), or it is signed with
 * an algorithm outside `algorithms`, or it is otherwise unusable (not compact, issued in the future, claims of the
 * wrong shape, a key it does not publish). No caller can fix that, and retrying soon will not help: 503 saying so, with
 * the long Retry-After of a misconfiguration; `detail` names the expected and received values for the log.
 */
export function directoryTokenMismatch(what: 'audience' | 'algorithm' | 'token', detail: string, cause?: unknown): OAuthError {
  const descriptions = {
    audience: "the central directory's tokens are not issued for this broker (audience); the broker log names the values",
    algorithm: "the central directory signs its tokens with an algorithm this broker does not accept; the broker log names it",
    token: 'the central directory answered with a token this broker cannot use; the broker log says why',
  };
  return new OAuthError('temporarily_unavailable', descriptions[what], { retryAfter: MISCONFIGURED_RETRY_AFTER_SEC, cause: new Error(detail, { cause }) });
}

function misconfigured(cause: unknown): OAuthError {
  return new OAuthError('temporarily_unavailable', "the central directory refused the broker's request: the broker's directory configuration needs fixing", {
    retryAfter: MISCONFIGURED_RETRY_AFTER_SEC,
    cause,
  });
}

/** The directory's description, kept to RFC 6749's error_description characters and a short length. */
function printable(description: string | undefined): string {
  const text = (description ?? '').replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, '').slice(0, 200);
  return text === '' ? 'no reason given' : text;
}
