import type { NextFunction, Request, Response } from 'express';
import { buildErrorResponse } from '../../errors/error-response.js';
import { OAuthError } from '../../errors/oauth-error.js';
import type { TrustedRedirect } from '../authorization/authorization-request.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set once `GET /oauth2/authorize` trusts the client's redirect URI: errors are then redirected there. */
      trustedRedirect?: TrustedRedirect;
    }
  }
}

/**
 * The error answer of `GET /oauth2/authorize` once its redirect URI is trusted (RFC 6749 §4.1.2.1): a 302 to it with
 * `error`, the `error_description` when it may be exposed, `state` as sent and `iss` (RFC 9207). Before that, the
 * error goes on to the JSON error writer: shown to the person, never redirected.
 */
export function redirectAuthorizationError(issuer: string) {
  return function redirectErrorToClient(err: unknown, req: Request, res: Response, next: NextFunction): void {
    const redirect = req.trustedRedirect;
    if (!redirect) return next(err);
    const answer = buildErrorResponse(err, { scheme: 'Bearer', realm: 'airflow-token-broker' });
    if (answer.level === 'error' || answer.level === 'warn') req.ctx.log.warn({ err: err instanceof OAuthError ? (err.cause ?? err) : err, code: answer.body.error }, 'authorization request failed');
    const url = new URL(redirect.redirectUri);
    url.searchParams.set('error', answer.body.error);
    if (answer.body.error_description !== undefined) url.searchParams.set('error_description', answer.body.error_description);
    if (redirect.state !== undefined) url.searchParams.set('state', redirect.state);
    url.searchParams.set('iss', issuer);
    res.redirect(302, url.href);
  };
}
