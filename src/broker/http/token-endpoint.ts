import type { NextFunction, Request, Response } from 'express';
import type { DirectoryIdentity } from '../../directory/directory.js';
import { invalidRequest, OAuthError } from '../../errors/oauth-error.js';
import type { Services } from '../../services.js';
import { TOKEN_EXCHANGE } from '../grants/token-exchange-grant.js';
import { clientRequestSteps } from './client-auth-steps.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      identity?: DirectoryIdentity;
    }
  }
}

/** The token endpoint as an ordered checklist of named steps. */
export function tokenEndpoint(s: Services) {
  return [
    ...clientRequestSteps(s),
    requireSupportedGrant(s),
    identifyCaller(s),
    issueToken(s),
    auditRefusal(s),
  ];
}

function requireSupportedGrant(s: Services) {
  return function supportedGrantCheck(req: Request, _res: Response, next: NextFunction): void {
    const grantType = req.form.get('grant_type');
    if (grantType === undefined) return next(invalidRequest('grant_type is required'));
    if (!s.grants.get(grantType)) return next(new OAuthError('unsupported_grant_type', `grant_type ${grantType} is not supported`));
    next();
  };
}

function identifyCaller(s: Services) {
  return async function identifyThroughGrant(req: Request, _res: Response, next: NextFunction): Promise<void> {
    const grant = s.grants.get(req.form.get('grant_type')!)!;
    req.identity = await grant.identify({ params: req.form, client: req.client });
    next();
  };
}

function issueToken(s: Services) {
  return async function signAndRespond(req: Request, res: Response): Promise<void> {
    const grantType = req.form.get('grant_type')!;
    const { response, claims, policyHash, deployment } = await s.tokens.issue(req.identity!, req.form);
    await s.grants.get(grantType)!.issued?.({ params: req.form, client: req.client }, claims);
    if (grantType === TOKEN_EXCHANGE) response.issued_token_type = 'urn:ietf:params:oauth:token-type:access_token';
    s.metrics.tokenRequests.inc({ grant_type: grantType, outcome: 'issued' });
    s.audit.token({
      event: 'token_issued',
      request_id: req.ctx.requestId,
      grant_type: grantType,
      client_id: claims.client_id,
      sub: claims.sub,
      directory: req.identity!.directory,
      roles: claims.scope.split(' '),
      scope: claims.scope,
      audience: claims.aud,
      deployment,
      jti: claims.jti,
      exp: claims.exp,
      outcome: 'issued',
      reason: undefined,
      reason_description: undefined,
      policy_hash: policyHash,
    });
    res.status(200).set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' }).json(response);
  };
}

function auditRefusal(s: Services) {
  return function auditTokenRefusal(err: unknown, req: Request, _res: Response, next: NextFunction): void {
    const code = err instanceof OAuthError ? err.code : 'server_error';
    const grantType = req.form?.get('grant_type');
    s.metrics.tokenRequests.inc({ grant_type: grantType && s.grants.get(grantType) ? grantType : 'other', outcome: code });
    s.audit.token({
      event: 'token_refused',
      request_id: req.ctx.requestId,
      grant_type: grantType,
      client_id: req.identity?.clientId ?? req.client?.clientId,
      sub: req.identity?.subject,
      directory: req.identity?.directory,
      roles: undefined,
      scope: req.form?.get('scope'),
      audience: req.form?.get('resource') ?? req.form?.get('audience'),
      deployment: undefined,
      jti: undefined,
      exp: undefined,
      outcome: 'refused',
      reason: code,
      reason_description: err instanceof OAuthError ? err.description : undefined,
      policy_hash: s.policies.current().hash,
    });
    next(err);
  };
}

