import type { Request } from 'express';
import type { Services } from '../../services.js';
import { InvalidTokenError } from '../../tokens/access-token-verifier.js';

/**
 * Writes a `token_rejected` audit record when one of our tokens presented at introspection, revocation or the
 * admin API was refused, with the closed rejection reason; any other error is not a token's fault and is left
 * to the caller. Returns undefined, so `verify(token).catch((err) => auditRejectedToken(...))` reads "no claims".
 */
export function auditRejectedToken(s: Services, req: Request, endpoint: 'introspection' | 'revocation' | 'admin', err: unknown): undefined {
  if (!(err instanceof InvalidTokenError)) return undefined;
  s.audit.token({
    event: 'token_rejected',
    request_id: req.ctx.requestId,
    grant_type: undefined,
    client_id: err.identity?.client_id,
    sub: err.identity?.sub,
    directory: undefined,
    roles: undefined,
    scope: undefined,
    audience: undefined,
    deployment: undefined,
    jti: undefined,
    exp: undefined,
    outcome: 'refused',
    reason: err.code,
    reason_description: err.description,
    policy_hash: s.policies.current().hash,
    endpoint,
    caller_client_id: req.caller?.clientId,
    token_rejection: err.rejection,
  });
  return undefined;
}
