import type { IncomingMessage } from 'node:http';
import type { TokenService } from '../broker/token-service.js';
import { OAuthError } from '../errors/oauth-error.js';
import { assertCsrfToken, type Logins } from '../login/logins.js';
import type { LiveSession } from '../login/person-sessions.js';

/** Methods that change nothing (RFC 9110 §9.2.1): the only ones a session may call without its CSRF token. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** A minted token is used again while it has more than this left; then a new one is minted. */
const RENEW_BEFORE_MS = 30_000;

/**
 * The proxy's session step: a call without `Authorization` that carries a person's session cookie is made with a
 * short-lived access token minted for the person and the deployment through `TokenService.issue` (so blocks,
 * narrowing and policy are those of every grant), kept in the session server side and never shown to the browser.
 * The normal pipeline then verifies that token: the same decision, audit and refusals as for an API client.
 *
 * A request from another origin never uses the session (its `Origin` is not the broker's, or `Sec-Fetch-Site` says
 * it is not same-origin); a state-changing method needs the session's CSRF token in `X-CSRF-Token`.
 */
export class SessionCaller {
  private readonly origin: string;

  constructor(
    private readonly logins: Logins,
    private readonly tokens: TokenService,
    issuer: string,
    private readonly now: () => number = Date.now,
  ) {
    this.origin = new URL(issuer).origin;
  }

  /**
   * The `Authorization` the pipeline authenticates: the caller's own header when present, else the session's token.
   * `onPerson` learns whose session it is before anything can refuse it, for the audit.
   */
  async authorization(req: IncomingMessage, deployment: { name: string; audience: string }, onPerson: (who: { sub: string; client_id: string }) => void = () => {}): Promise<string | undefined> {
    if (req.headers.authorization !== undefined || !this.sameOrigin(req)) return req.headers.authorization;
    const session = await this.logins.fromRequest(req);
    if (!session) return undefined;
    onPerson({ sub: session.identity.subject, client_id: session.identity.clientId });
    if (session.embedded && session.embedded.deployment !== deployment.name) {
      throw new OAuthError('invalid_token', `this session was made inside a frame of deployment ${session.embedded.deployment} and is valid only there`, { extra: { reason: 'session-other-deployment' } });
    }
    if (!SAFE_METHODS.has(req.method ?? '')) assertCsrfToken(session, req.headers['x-csrf-token']);
    return `Bearer ${await this.token(session, deployment)}`;
  }

  private sameOrigin(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== this.origin) return false;
    const site = req.headers['sec-fetch-site'];
    return site === undefined || site === 'same-origin' || site === 'none';
  }

  private async token(session: LiveSession, deployment: { name: string; audience: string }): Promise<string> {
    const kept = session.tokens[deployment.name];
    if (kept && kept.expiresAt - this.now() > RENEW_BEFORE_MS) return kept.token;
    // The session's absolute end bounds the token (TokenService never lets a token outlive `expiresAt`).
    const identity = { ...session.identity, expiresAt: Math.floor(session.expiresAt / 1000) };
    let issued;
    try {
      issued = await this.tokens.issue(identity, new Map([['resource', deployment.audience]]));
    } catch (err) {
      throw asProxyRefusal(err, deployment.name);
    }
    const token = issued.response.access_token;
    await this.logins.sessions.keepToken(session, deployment.name, { token, expiresAt: issued.claims.exp * 1000 });
    return token;
  }
}

/** A person with no role on the deployment is refused like any caller the policy grants nothing: 403 with a reason. */
function asProxyRefusal(err: unknown, deployment: string): unknown {
  if (!(err instanceof OAuthError) || !['invalid_scope', 'invalid_target'].includes(err.code)) return err;
  return new OAuthError('insufficient_scope', `none of your roles grants anything on deployment ${deployment}`, { extra: { reason: 'no-role-on-deployment' }, cause: err });
}
