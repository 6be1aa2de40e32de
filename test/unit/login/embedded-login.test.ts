import type { IncomingMessage } from 'node:http';
import { Logins } from '../../../src/login/logins.js';
import { MemoryExpiringStore } from '../../../src/sessions/memory-expiring-store.js';
import { fakeDirectoryLogin } from '../../helpers/fake-directory-login.js';

/**
 * The embed cookie: only a login started for the framed console of a deployment that may be framed (its popup
 * comes back to `/console/<deployment>?login=popup`), only on an https issuer, and valid for that deployment only.
 */


const directory = fakeDirectoryLogin();

function logins(issuer: string, framable: string[]): Logins {
  return new Logins({ issuer, directory, store: new MemoryExpiringStore({ maxEntries: 100 }), timeouts: { idleMs: 60_000, absoluteMs: 3_600_000 }, now: Date.now, embeddable: (d) => framable.includes(d) });
}

const request = (cookies: string[]): IncomingMessage => ({ headers: { cookie: cookies.map((c) => c.split(';')[0]).join('; ') } }) as IncomingMessage;

async function login(l: Logins, returnTo: string): Promise<string[]> {
  const started = await l.start(returnTo);
  const finished = await l.finish(request(started.cookies), '/login/callback?code=c&state=s');
  return finished.cookies;
}

describe('the embed cookie', () => {
  it('embed-session-for-a-framable-deployment: SameSite=None; Secure, and the session is for that deployment only', async () => {
    const l = logins('https://broker.example', ['prod']);
    const cookies = await login(l, '/console/prod?login=popup');
    const embed = cookies.find((c) => c.startsWith('__Host-atb_embed_session='));
    expect(embed).toMatch(/SameSite=None/);
    expect(embed).toMatch(/Secure/);
    expect(embed).toMatch(/HttpOnly/);
    expect(cookies.some((c) => c.startsWith('__Host-atb_session=') && !/Max-Age=0/.test(c))).toBe(false);
    const session = await l.fromRequest(request(cookies));
    expect(session?.embedded).toEqual({ deployment: 'prod' });
  });

  it.each([
    ['embed-cookie-for-a-deployment-that-may-not-be-framed', 'https://broker.example', '/console/staging?login=popup'],
    ['embed-cookie-for-a-top-level-login', 'https://broker.example', '/console/prod'],
    ['embed-cookie-for-another-path', 'https://broker.example', '/oauth2/authorize?login=popup'],
    ['embed-cookie-on-an-http-issuer', 'http://broker.example', '/console/prod?login=popup'],
  ])('%s: a Lax session valid everywhere, no SameSite=None cookie', async (_name, issuer, returnTo) => {
    const l = logins(issuer, ['prod']);
    const cookies = await login(l, returnTo);
    expect(cookies.some((c) => /SameSite=None/.test(c) && !/Max-Age=0/.test(c))).toBe(false);
    const session = await l.fromRequest(request(cookies));
    expect(session).toBeDefined();
    expect(session!.embedded).toBeUndefined();
  });
});

describe('cookies on an https issuer', () => {
  it('session-cookie-on-https-issuer: __Host- name, Secure, HttpOnly, SameSite=Lax, Path=/', async () => {
    const cookies = await login(logins('https://broker.example', []), '/console');
    const session = cookies.find((c) => c.startsWith('__Host-atb_session='))!;
    for (const attribute of [/Secure/, /HttpOnly/, /SameSite=Lax/, /Path=\//]) expect(session).toMatch(attribute);
    expect(session).not.toMatch(/Domain=/);
  });
});

describe('logout with an embed session beside the top-level one', () => {
  it('logout-ends-the-embed-session-too', async () => {
    const l = logins('https://broker.example', ['prod']);
    const embedCookies = await login(l, '/console/prod?login=popup');
    const topCookies = await login(l, '/console');
    const both = [...embedCookies, ...topCookies].filter((c) => !/Max-Age=0/.test(c));
    const top = await l.fromRequest(request(both));
    expect(top?.embedded).toBeUndefined();
    await l.logout(request(both), top!.csrfToken, '/console');
    expect(await l.fromRequest(request(embedCookies.filter((c) => !/Max-Age=0/.test(c))))).toBeUndefined();
  });
});

describe('a session store that cannot answer', () => {
  it('session-store-down: reading the session is 503 temporarily_unavailable, never "no session"', async () => {
    const l = logins('https://broker.example', []);
    const cookies = await login(l, '/console');
    const broken = new Logins({
      issuer: 'https://broker.example',
      directory,
      store: { set: async () => {}, get: async () => { throw new Error('ECONNREFUSED'); }, take: async () => undefined, delete: async () => {}, close: () => {} },
      timeouts: { idleMs: 60_000, absoluteMs: 3_600_000 },
      now: Date.now,
      embeddable: () => false,
    });
    await expect(broken.fromRequest(request(cookies))).rejects.toMatchObject({ code: 'temporarily_unavailable', status: 503 });
  });
});
