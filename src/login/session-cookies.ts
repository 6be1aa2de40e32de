import type { IncomingMessage } from 'node:http';
import { getCookies, Headers, setCookie, type Cookie } from 'undici';

/** Which cookie: the session, or the short-lived one naming a pending login. */
export type CookieKind = 'session' | 'login';

/**
 * The broker's cookies (parsed and written by undici's cookie helpers). On an https issuer: `__Host-` names
 * (Secure, Path=/, no Domain: only this host ever gets them), HttpOnly, `SameSite=Lax`. On an http issuer
 * (development, the demo) browsers refuse `__Host-` and `Secure`, so the plain names without Secure. The embed
 * variants (`SameSite=None; Secure`, for a session inside an allowed frame) exist only on https.
 */
export class SessionCookies {
  private readonly secure: boolean;

  constructor(issuer: string) {
    this.secure = new URL(issuer).protocol === 'https:';
  }

  /** Embedding needs `SameSite=None`, which browsers accept only with `Secure`: an https issuer. */
  get canEmbed(): boolean {
    return this.secure;
  }

  name(kind: CookieKind, embedded = false): string {
    const base = `atb_${embedded ? 'embed_' : ''}${kind}`;
    return this.secure ? `__Host-${base}` : base;
  }

  /** The value of a cookie of the request, if sent. */
  read(req: IncomingMessage, kind: CookieKind, embedded = false): string | undefined {
    const header = req.headers.cookie;
    if (!header) return undefined;
    const value = getCookies(new Headers({ cookie: header }))[this.name(kind, embedded)];
    return value === undefined || value === '' ? undefined : value;
  }

  /** `Set-Cookie` for `value`, living `maxAgeMs`. */
  serialize(kind: CookieKind, value: string, maxAgeMs: number, embedded = false): string {
    return this.write({ name: this.name(kind, embedded), value, maxAge: Math.max(0, Math.floor(maxAgeMs / 1000)) }, embedded);
  }

  /** `Set-Cookie` that makes the browser forget the cookie. */
  clear(kind: CookieKind, embedded = false): string {
    return this.write({ name: this.name(kind, embedded), value: '', maxAge: 0 }, embedded);
  }

  private write(cookie: Pick<Cookie, 'name' | 'value' | 'maxAge'>, embedded: boolean): string {
    const headers = new Headers();
    setCookie(headers, { ...cookie, path: '/', httpOnly: true, secure: this.secure || embedded, sameSite: embedded ? 'None' : 'Lax' });
    return headers.getSetCookie()[0]!;
  }
}
