import type { IncomingMessage } from 'node:http';
import type { DirectoryIdentity } from '../directory/directory.js';

/**
 * A person's session, as the broker keeps it server side (the browser holds only its opaque id in a cookie).
 * `expiresAt` is the absolute end (epoch ms); the idle end moves with use.
 */
export interface PersonSession {
  /** The cookie value: 32 random bytes, base64url. A new one at every login (no fixation). */
  id: string;
  identity: DirectoryIdentity;
  /** Must come back as `X-CSRF-Token` (or the form field `csrf_token`) on every state-changing call. */
  csrfToken: string;
  createdAt: number;
  expiresAt: number;
  /** A session made inside an allowed frame (the embed cookie): valid for this one deployment only. */
  embedded?: { deployment: string };
}

/**
 * Who is logged in, for the modules that serve people (the proxy, the console, the broker's own
 * `/oauth2/authorize`). `services.logins` implements it when `login` is configured.
 *
 * @example
 *   const session = await logins.fromRequest(req);
 *   if (!session) return res.redirect(303, logins.loginUrl('/oauth2/authorize?' + query));
 *   const { response } = await tokens.issue(session.identity, params);
 */
export interface SessionReader {
  /** The live session named by the request's cookie (idle and absolute timeouts applied), or undefined. */
  fromRequest(req: IncomingMessage): Promise<PersonSession | undefined>;
  /** The broker's `/login` URL that comes back to `returnTo` (a same-origin path; anything else: `/console`). */
  loginUrl(returnTo: string): string;
}
