import express, { Router, type RequestHandler, type Request, type Response } from 'express';
import { errorMiddleware } from '../http/error-middleware.js';
import { OAuthError } from '../errors/oauth-error.js';
import type { PolicyStore } from '../policy/policy-store.js';
import { LOGIN_PATHS, type Logins, type LoginStep } from './logins.js';
import type { LiveSession } from './person-sessions.js';

export interface LoginRouterOptions {
  logins: Logins;
  policies: PolicyStore;
  /** The configured deployments, for the `deployments` a person has a role on. */
  deployments: readonly string[];
  bodyLimit: string;
  /** The per-address rate limit of the token endpoint: each login start writes a pending login to the store. */
  limitByAddress: RequestHandler;
}

/**
 * `GET /login`, `GET /login/callback`, `GET /login/logged-out`, `POST /logout`, `GET /session`. Errors are the
 * broker's JSON errors (RFC 6749 style); a directory that cannot answer is 503 `temporarily_unavailable`.
 */
export function loginRouter(o: LoginRouterOptions): Router {
  const router = Router();
  router.get(LOGIN_PATHS.login, o.limitByAddress, async (req, res) => redirect(res, await o.logins.start(req.query.return_to)));
  router.get(LOGIN_PATHS.callback, async (req, res) => redirect(res, await o.logins.finish(req, req.originalUrl)));
  router.get(LOGIN_PATHS.loggedOut, (_req, res) => {
    res.set('Cache-Control', 'no-store').type('html').send(LOGGED_OUT_PAGE);
  });
  router.post(LOGIN_PATHS.logout, express.urlencoded({ extended: false, limit: o.bodyLimit }), async (req: Request, res) => {
    const form = (req.body ?? {}) as Record<string, unknown>;
    redirect(res, await o.logins.logout(req, req.get('x-csrf-token') ?? form.csrf_token, form.return_to ?? req.query.return_to));
  });
  router.get(LOGIN_PATHS.session, async (req, res) => {
    const session = await o.logins.fromRequest(req);
    if (!session) throw new OAuthError('login_required', 'no session: log in at /login');
    res.set('Cache-Control', 'no-store').json(describeSession(session, o));
  });
  // A `Basic` challenge would make browsers prompt for a password on a 401: these answers name `Bearer`.
  router.use([LOGIN_PATHS.login, LOGIN_PATHS.logout, LOGIN_PATHS.session], errorMiddleware({ scheme: 'Bearer', realm: 'airflow-token-broker' }));
  return router;
}

function redirect(res: Response, step: LoginStep): void {
  res.set('Cache-Control', 'no-store').append('Set-Cookie', step.cookies).redirect(303, step.location);
}

/** What `GET /session` tells the page: who, which roles where, the CSRF token; never a bearer token. */
function describeSession(session: LiveSession, o: LoginRouterOptions) {
  const policy = o.policies.current();
  const { identity } = session;
  const roles = policy.rolesFor(identity);
  const reachable = session.embedded ? [session.embedded.deployment] : o.deployments;
  const claim = (name: string) => (typeof identity.claims[name] === 'string' ? (identity.claims[name] as string) : undefined);
  return {
    subject: identity.subject,
    ...(claim('name') ? { name: claim('name') } : {}),
    ...(claim('email') ? { email: claim('email') } : {}),
    groups: identity.groups,
    roles,
    deployments: reachable.filter((d) => policy.rolesOn(roles, d).length > 0),
    ...(session.embedded ? { embedded: session.embedded.deployment } : {}),
    csrf_token: session.csrfToken,
    expires_at: new Date(session.expiresAt).toISOString(),
    idle_expires_at: new Date(session.idleExpiresAt).toISOString(),
  };
}

const LOGGED_OUT_PAGE = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Logged out</title></head>
<body><main><h1>You are logged out</h1><p><a href="${LOGIN_PATHS.login}">Log in again</a></p></main></body></html>`;
