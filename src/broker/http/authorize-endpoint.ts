import type { NextFunction, Request, Response } from 'express';
import type { Config } from '../../config/schema.js';
import { OAuthError } from '../../errors/oauth-error.js';
import type { DirectoryIdentity } from '../../directory/directory.js';
import type { SessionReader } from '../../login/session-reader.js';
import { authorizationRequest, trustedRedirect, type AuthorizationRequest } from '../authorization/authorization-request.js';
import type { AuthorizationCodes } from '../authorization/authorization-codes.js';
import type { RateLimiter } from '../rate-limiter.js';
import { redirectAuthorizationError } from './authorization-error-redirect.js';

export interface AuthorizeEndpointOptions {
  config: Config;
  /** The registered public client (`login.cli.client_id`). */
  clientId: string;
  /** Who is logged in (the directory login, src/login). */
  people: SessionReader;
  codes: AuthorizationCodes;
  /** Codes per person (`rate_limits.per_client`, keyed `person:<subject>`): each code is a store entry for 60 s. */
  perPerson: RateLimiter;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** `GET /oauth2/authorize`: the checked request, then the person it is for. */
      authorizationRequest?: AuthorizationRequest;
      authorizingPerson?: { identity: DirectoryIdentity; expiresAt: number };
    }
  }
}

export const AUTHORIZE_PATH = '/oauth2/authorize';

/**
 * `GET /oauth2/authorize` for the CLI (RFC 6749 §4.1, RFC 8252 loopback, RFC 7636 S256): the person logged in at
 * the directory login gets a one-time code sent to the CLI's loopback listener. No consent step: the CLI is the
 * broker's own first-party client, and the page can never be framed.
 */
export function authorizeEndpoint(options: AuthorizeEndpointOptions) {
  return [
    denyFraming,
    trustRedirect(options.clientId),
    validateRequest(options.config),
    requirePerson(options.people),
    limitCodesPerPerson(options.perPerson),
    issueCode(options),
    redirectAuthorizationError(options.config.issuer),
  ];
}

/** Any other method than GET (and HEAD) at the authorization endpoint. */
export function authorizeMethodNotAllowed(_req: Request, _res: Response, next: NextFunction): void {
  next(new OAuthError('invalid_request', 'use GET', { status: 405, headers: { Allow: 'GET' } }));
}

function denyFraming(_req: Request, res: Response, next: NextFunction): void {
  res.set({
    'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
    'X-Frame-Options': 'DENY',
    'Cache-Control': 'no-store',
    'Referrer-Policy': 'no-referrer',
  });
  next();
}

function queryOf(req: Request): URLSearchParams {
  const at = req.originalUrl.indexOf('?');
  return new URLSearchParams(at < 0 ? '' : req.originalUrl.slice(at + 1));
}

function trustRedirect(clientId: string) {
  return function trustClientRedirect(req: Request, _res: Response, next: NextFunction): void {
    req.trustedRedirect = trustedRedirect(queryOf(req), clientId);
    next();
  };
}

function validateRequest(config: Config) {
  return function validateAuthorizationRequest(req: Request, _res: Response, next: NextFunction): void {
    req.authorizationRequest = authorizationRequest(queryOf(req), req.trustedRedirect!, config);
    next();
  };
}

/**
 * No session: to the directory login, back here after it (a same-origin path). A session made for one embedded
 * console is for that deployment's frame only, so it counts as none: the person logs in at the top level.
 */
function requirePerson(people: SessionReader) {
  return async function requireLoggedInPerson(req: Request, res: Response, next: NextFunction): Promise<void> {
    const session = await people.fromRequest(req);
    if (!session || session.embedded) {
      res.redirect(302, people.loginUrl(req.originalUrl));
      return;
    }
    req.authorizingPerson = session;
    next();
  };
}

/** A person cannot fill the shared session store with codes (and so lock everyone else out of logging in). */
function limitCodesPerPerson(limiter: RateLimiter) {
  return async function limitByPerson(req: Request, _res: Response, next: NextFunction): Promise<void> {
    const wait = await limiter.take(`person:${req.authorizingPerson!.identity.subject}`);
    next(wait > 0 ? new OAuthError('temporarily_unavailable', 'too many logins in a short time, retry later', { status: 429, retryAfter: wait }) : undefined);
  };
}

function issueCode({ config, codes }: AuthorizeEndpointOptions) {
  return async function issueCodeToClient(req: Request, res: Response): Promise<void> {
    const request = req.authorizationRequest!;
    const { identity, expiresAt } = req.authorizingPerson!;
    // A token from this login never outlives the session it came from (TokenService caps `exp` at `expiresAt`).
    const sessionEnd = Math.floor(expiresAt / 1000);
    const code = await codes.issue({
      clientId: request.clientId,
      redirectUri: request.redirectUri,
      codeChallenge: request.codeChallenge,
      upstream: request.upstream,
      ...(request.scope !== undefined && { scope: request.scope }),
      identity: { ...identity, clientId: request.clientId, expiresAt: sessionEnd },
    });
    const url = new URL(request.redirectUri);
    url.searchParams.set('code', code);
    if (request.state !== undefined) url.searchParams.set('state', request.state);
    url.searchParams.set('iss', config.issuer);
    req.ctx.log.info({ sub: identity.subject, client_id: request.clientId, deployment: request.upstream }, 'authorization code issued');
    res.redirect(302, url.href);
  };
}
