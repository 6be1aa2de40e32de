import type { NextFunction, Request, Response } from 'express';
import type { DirectoryIdentity } from '../../directory/directory.js';
import { invalidClient, OAuthError } from '../../errors/oauth-error.js';
import type { Services } from '../../services.js';
import { presentedClient, type PresentedClient } from '../client-credentials.js';
import { formBody } from './form.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      client?: PresentedClient;
      /** The client the directory vouched for (introspection, revocation). */
      caller?: DirectoryIdentity;
    }
  }
}

function limited(s: Services, limit: 'per_client' | 'per_ip', retryAfter: number): OAuthError {
  s.metrics.rateLimited.inc({ limit });
  return new OAuthError('temporarily_unavailable', 'rate limit exceeded', { status: 429, retryAfter });
}

export function rateLimitByAddress(s: Services) {
  return async function limitByAddress(req: Request, _res: Response, next: NextFunction): Promise<void> {
    const wait = await s.limits.perAddress.take(req.ip ?? 'unknown');
    next(wait > 0 ? limited(s, 'per_ip', wait) : undefined);
  };
}

export function readClientCredentials(req: Request, _res: Response, next: NextFunction): void {
  req.client = presentedClient(req.get('authorization'), req.form);
  next();
}

/** Keyed by the claimed client id, before it is checked, so guessing a client's secret is throttled too. */
export function rateLimitByClient(s: Services) {
  return async function limitByClient(req: Request, _res: Response, next: NextFunction): Promise<void> {
    if (!req.client) return next();
    const wait = await s.limits.perClient.take(req.client.clientId);
    next(wait > 0 ? limited(s, 'per_client', wait) : undefined);
  };
}

/** The methods clients may authenticate with at the broker: those of the directory that checks their credentials. */
export function clientAuthMethods(s: Services): readonly PresentedClient['method'][] {
  return s.directories.clientCredentials()?.config.client_credentials?.client_auth_methods ?? ['client_secret_basic', 'client_secret_post'];
}

/** A method the directory does not allow is refused like a wrong secret, before any directory round trip. */
export function requireAllowedAuthMethod(s: Services) {
  const allowed = new Set(clientAuthMethods(s));
  return function allowedAuthMethodCheck(req: Request, _res: Response, next: NextFunction): void {
    next(req.client && !allowed.has(req.client.method) ? invalidClient(new Error(`${req.client.method} is not allowed for this directory's clients`)) : undefined);
  };
}

/** Introspection and revocation callers authenticate at the directory like service accounts do. */
export function authenticateCaller(s: Services) {
  return async function checkCallerAtDirectory(req: Request, _res: Response, next: NextFunction): Promise<void> {
    const directory = s.directories.clientCredentials();
    if (!req.client || !directory) return next(invalidClient(new Error('no client credentials presented')));
    req.caller = await directory.authenticateClient(req.client.clientId, req.client.clientSecret);
    next();
  };
}

/**
 * The first steps of every client-facing OAuth endpoint: the form body, then rate limits around reading the
 * client, then the check of its authentication method.
 */
export function clientRequestSteps(s: Services) {
  return [...formBody(s.config.server.body_limit), rateLimitByAddress(s), readClientCredentials, rateLimitByClient(s), requireAllowedAuthMethod(s)];
}
