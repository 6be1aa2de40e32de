import { parseCookie } from 'undici';

/**
 * A browser stand-in for login tests: fetch with a cookie jar per origin, following redirects by hand so that every
 * hop's cookies and `Location` can be looked at. No scripts, no rendering: the real browser suite is Chromium's.
 */
export class PersonBrowser {
  readonly jars = new Map<string, Map<string, string>>();

  cookie(origin: string, name: string): string | undefined {
    return this.jars.get(origin)?.get(name);
  }

  setCookie(origin: string, name: string, value: string): void {
    this.jar(origin).set(name, value);
  }

  /** One request with this browser's cookies for its origin; the jar takes the answer's `Set-Cookie`s. */
  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const origin = new URL(url).origin;
    const jar = this.jar(origin);
    const headers = new Headers(init.headers);
    if (jar.size > 0) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const c = parseCookie(line);
      if (!c) continue;
      if (c.maxAge !== undefined && c.maxAge <= 0) jar.delete(c.name);
      else jar.set(c.name, c.value);
    }
    return res;
  }

  /** Follows redirects (GET) from `url` until an answer that is not one, or until `stop(url)` says so. */
  async follow(url: string, init: RequestInit = {}, stop: (next: string) => boolean = () => false): Promise<{ res: Response; url: string; hops: string[] }> {
    const hops: string[] = [];
    let current = url;
    let res = await this.request(current, init);
    while (res.status >= 300 && res.status < 400 && res.headers.get('location')) {
      const next = new URL(res.headers.get('location')!, current).href;
      hops.push(next);
      if (stop(next)) return { res, url: next, hops };
      await res.arrayBuffer();
      current = next;
      res = await this.request(current);
    }
    return { res, url: current, hops };
  }

  private jar(origin: string): Map<string, string> {
    let jar = this.jars.get(origin);
    if (!jar) this.jars.set(origin, (jar = new Map()));
    return jar;
  }
}

/**
 * Logs `username` in through the broker's `/login` and the dev directory's own login page. Stops before the
 * broker's callback when `stopAtCallback` (the callback URL is returned, unvisited) so tests can tamper with it.
 */
export async function loginAs(
  browser: PersonBrowser,
  brokerUrl: string,
  username: string,
  password: string,
  options: { returnTo?: string; stopAtCallback?: boolean } = {},
): Promise<{ res: Response; url: string }> {
  const start = `${brokerUrl}/login${options.returnTo === undefined ? '' : `?return_to=${encodeURIComponent(options.returnTo)}`}`;
  const toForm = await browser.follow(start);
  if (toForm.res.status !== 200 || !new URL(toForm.url).pathname.startsWith('/interaction/')) {
    throw new Error(`expected the directory's login page, got ${toForm.res.status} at ${toForm.url}: ${await toForm.res.text()}`);
  }
  await toForm.res.text();
  const isCallback = (u: string) => u.startsWith(`${brokerUrl}/login/callback`);
  const submitted = await browser.follow(
    toForm.url,
    { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ username, password }) },
    (next) => options.stopAtCallback === true && isCallback(next),
  );
  return { res: submitted.res, url: submitted.url };
}
