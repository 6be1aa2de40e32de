import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { DirectoryLogin, LoginChallenge } from '../directory/directory-login.js';
import { invalidRequest, OAuthError } from '../errors/oauth-error.js';
import { storeOperation, type ExpiringStore } from '../sessions/expiring-store.js';
import { PersonSessions, type LiveSession, type SessionTimeouts } from './person-sessions.js';
import { sameOriginPath } from './return-address.js';
import { SessionCookies } from './session-cookies.js';
import type { SessionReader } from './session-reader.js';

/** How long a person may take at the directory's login page. */
const PENDING_LOGIN_MS = 10 * 60_000;

/** A login in progress, kept under `login:<handle>` and taken once by its callback. */
interface PendingLogin {
  challenge: LoginChallenge;
  returnTo: string;
  /** The login of a framed console's popup: its session gets the embed cookie and serves this deployment only. */
  embedded?: { deployment: string };
}

/** The framed console's login window comes back to `/console/<deployment>?...login=popup` (console/src/login-view.ts). */
const FRAMED_CONSOLE_RETURN = /^\/console\/([a-z0-9][a-z0-9_-]{0,62})\/?\?(?:[^#]*&)?login=popup(?:[&#]|$)/;

/** An answer for the router: where the browser goes next, and the cookies to set on the way. */
export interface LoginStep {
  location: string;
  cookies: string[];
}

export interface LoginsOptions {
  /** The broker's issuer: every URL (callback, return addresses) is derived from it, never from `Host`. */
  issuer: string;
  directory: DirectoryLogin;
  store: ExpiringStore;
  timeouts: SessionTimeouts;
  now: () => number;
  /** May this deployment's console be framed (`upstreams.<d>.console.frame_ancestors` not empty)? */
  embeddable: (deployment: string) => boolean;
}

/** The paths of the login routes (the router serves them, {@link Logins} builds URLs to them). */
export const LOGIN_PATHS = {
  login: '/login',
  callback: '/login/callback',
  loggedOut: '/login/logged-out',
  logout: '/logout',
  session: '/session',
} as const;

/**
 * People's logins (`services.logins`): starts a login at the directory, completes its callback into a new
 * session, reads the session of a request, and ends it. Express-free: the router only carries its answers.
 */
export class Logins implements SessionReader {
  readonly cookies: SessionCookies;
  readonly sessions: PersonSessions;
  private readonly base: string;

  constructor(private readonly options: LoginsOptions) {
    this.base = options.issuer.replace(/\/+$/, '');
    this.cookies = new SessionCookies(options.issuer);
    this.sessions = new PersonSessions(options.store, options.timeouts, options.now);
  }

  /** `<issuer>/login/callback`, the redirect URI registered at the directory. */
  static redirectUri(issuer: string): string {
    return issuer.replace(/\/+$/, '') + LOGIN_PATHS.callback;
  }

  loginUrl(returnTo: string): string {
    return `${this.base}${LOGIN_PATHS.login}?return_to=${encodeURIComponent(sameOriginPath(returnTo))}`;
  }

  /** `GET /login`: a pending login (server side, behind a short-lived cookie), then off to the directory. */
  async start(returnTo: unknown): Promise<LoginStep> {
    const challenge = this.options.directory.newChallenge();
    const location = await this.options.directory.authorizationUrl(challenge);
    const handle = randomBytes(32).toString('base64url');
    const path = sameOriginPath(returnTo);
    const embedded = this.embedding(path);
    const pending: PendingLogin = { challenge, returnTo: path, ...(embedded ? { embedded } : {}) };
    await storeOperation('session', () => this.options.store.set(`login:${handle}`, JSON.stringify(pending), PENDING_LOGIN_MS));
    return { location, cookies: [this.cookies.serialize('login', handle, PENDING_LOGIN_MS)] };
  }

  /**
   * `GET /login/callback`: the pending login of THIS browser (its cookie), taken once, must match the callback
   * (state, iss, code, nonce: openid-client). Then a new session with a new id; a session the browser had before is
   * ended, so an id planted before login is never the one after. `callbackPath`: the request's path and query.
   */
  async finish(req: IncomingMessage, callbackPath: string): Promise<LoginStep> {
    const handle = this.cookies.read(req, 'login');
    const text = handle === undefined ? undefined : await storeOperation('session', () => this.options.store.take(`login:${handle}`));
    if (text === undefined) throw invalidRequest('no login is in progress in this browser (it expired, or this answer was used already): log in again');
    const pending = JSON.parse(text) as PendingLogin;
    const { identity, idToken } = await this.options.directory.complete(new URL(this.base + callbackPath), pending.challenge);
    const embedded = pending.embedded !== undefined;
    const previous = this.cookies.read(req, 'session', embedded);
    if (previous !== undefined) await this.sessions.end(previous);
    const session = await this.sessions.create(identity, idToken, pending.embedded);
    return {
      location: this.base + pending.returnTo,
      cookies: [this.cookies.clear('login'), this.cookies.serialize('session', session.id, this.options.timeouts.absoluteMs, embedded)],
    };
  }

  /**
   * A login for the framed console of a deployment that may be framed, on an https issuer (`SameSite=None` needs
   * `Secure`): its session is the embed cookie's, valid for that deployment only. Any other login: undefined.
   */
  private embedding(returnTo: string): { deployment: string } | undefined {
    const deployment = FRAMED_CONSOLE_RETURN.exec(returnTo)?.[1];
    if (deployment === undefined || !this.cookies.canEmbed || !this.options.embeddable(deployment)) return undefined;
    return { deployment };
  }

  /** The session of the request: its `SameSite=Lax` cookie's, else (inside a frame, only that one is sent) the embed cookie's. */
  async fromRequest(req: IncomingMessage): Promise<LiveSession | undefined> {
    const id = this.cookies.read(req, 'session');
    const session = id === undefined ? undefined : await this.sessions.read(id);
    if (session || !this.cookies.canEmbed) return session;
    const embedId = this.cookies.read(req, 'session', true);
    return embedId === undefined ? undefined : this.sessions.read(embedId);
  }

  /**
   * `POST /logout`: ends the session (its CSRF token must come with the request), then RP-initiated logout at the
   * directory when it has an `end_session_endpoint`, else back to `returnTo`. Without a session: only the way back.
   */
  async logout(req: IncomingMessage, csrfToken: unknown, returnTo: unknown): Promise<LoginStep> {
    const session = await this.fromRequest(req);
    const cookies = [this.cookies.clear('session'), ...(this.cookies.canEmbed ? [this.cookies.clear('session', true)] : [])];
    if (!session) return { location: this.base + sameOriginPath(returnTo), cookies };
    assertCsrfToken(session, csrfToken);
    // Both of this browser's sessions end: the one whose CSRF token came, and an embed session beside it.
    const embedId = this.cookies.canEmbed ? this.cookies.read(req, 'session', true) : undefined;
    await this.sessions.end(session.id);
    if (embedId !== undefined && embedId !== session.id) await this.sessions.end(embedId);
    const endSession = await this.options.directory.endSessionUrl(session.idToken, this.base + LOGIN_PATHS.loggedOut).catch(() => undefined);
    return { location: endSession ?? this.base + sameOriginPath(returnTo), cookies };
  }
}

/** The CSRF token of a state-changing call must equal the session's (compared in constant time). */
export function assertCsrfToken(session: { csrfToken: string }, presented: unknown): void {
  const expected = Buffer.from(session.csrfToken);
  const given = typeof presented === 'string' ? Buffer.from(presented) : Buffer.alloc(0);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new OAuthError('invalid_request', 'this call changes something and needs the session\'s CSRF token (X-CSRF-Token, from GET /session)', { status: 403, extra: { reason: 'csrf-token-missing-or-wrong' } });
  }
}
