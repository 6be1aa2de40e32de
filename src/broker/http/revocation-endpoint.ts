import type { NextFunction, Request, Response } from 'express';
import { invalidRequest, OAuthError } from '../../errors/oauth-error.js';
import type { Services } from '../../services.js';
import { auditRejectedToken } from './audit-rejected-token.js';
import { authenticateCaller, clientRequestSteps } from './client-auth-steps.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** A public client that named itself (`client_id`, no secret): the CLI. */
      publicClientId?: string;
    }
  }
}

/** RFC 7009. A client revokes its own tokens; revocation is by `jti` and persisted. */
export function revocationEndpoint(s: Services) {
  return [
    ...clientRequestSteps(s),
    publicClientOr(authenticateCaller(s), s.cliLogin?.clientId),
    revoke(s),
  ];
}

/**
 * The CLI is a public client (RFC 7009 §5): it names itself with `client_id` and no secret, and revokes only tokens
 * issued to it. Any other caller authenticates at the directory.
 */
function publicClientOr(authenticate: (req: Request, res: Response, next: NextFunction) => Promise<void>, publicClientId: string | undefined) {
  return async function publicClientOrAuthenticated(req: Request, res: Response, next: NextFunction): Promise<void> {
    if (publicClientId !== undefined && !req.client && req.form.get('client_id') === publicClientId) {
      req.publicClientId = publicClientId;
      return next();
    }
    await authenticate(req, res, next);
  };
}

function revoke(s: Services) {
  return async function revokeByJti(req: Request, res: Response): Promise<void> {
    const token = req.form.get('token');
    if (token === undefined) throw invalidRequest('token is required');
    // An invalid, expired or already revoked token needs no revoking: RFC 7009 §2.2 answers 200 all the same.
    // A store that cannot answer is no such token: 503, so the client retries (never a 200 for nothing stored).
    const claims = await s.verifier.verifyIfValid(token, (err) => auditRejectedToken(s, req, 'revocation', err));
    if (claims) {
      if (claims.client_id !== (req.publicClientId ?? req.caller!.clientId)) throw new OAuthError('unauthorized_client', 'the token was not issued to this client');
      await s.revocations.revoke(claims.jti, claims.exp * 1000);
      req.ctx.log.info({ jti: claims.jti, client_id: claims.client_id }, 'token revoked');
    }
    res.status(200).set({ 'Cache-Control': 'no-store' }).end();
  };
}
