import { decodeJwt, decodeProtectedHeader, generateKeyPair } from 'jose';
import { signCompactEs256, startDevDirectory, type DevDirectory } from '../../scripts/dev-directory.js';
import type { Broker } from '../helpers/broker-harness.js';
import { startLoginBroker } from '../helpers/login-broker.js';
import { loginAs, PersonBrowser } from '../helpers/person-browser.js';

/**
 * Attacks on the people's login (the broker as relying party): each ends in a clear JSON error and never in a
 * session. The callback is reached by a real login at the dev directory, then replayed or tampered with.
 */

/** Set by a test to rewrite the next ID tokens the directory sends (re-signed with its key or another). */
let rewriteIdToken: ((token: string) => Promise<string>) | undefined;
let directory: DevDirectory;
let broker: Broker;

beforeAll(async () => {
  directory = await startDevDirectory({ rewriteIdToken: (t) => (rewriteIdToken ? rewriteIdToken(t) : t) });
  broker = await startLoginBroker(directory);
});
afterAll(async () => {
  await broker.close();
  await directory.close();
});
afterEach(() => (rewriteIdToken = undefined));

/** Logs alice in up to the directory's redirect back to the broker, which is returned unvisited. */
async function callbackOf(browser: PersonBrowser, returnTo?: string): Promise<string> {
  const { url } = await loginAs(browser, broker.url, 'alice', 'alice-password', { stopAtCallback: true, ...(returnTo === undefined ? {} : { returnTo }) });
  expect(url.startsWith(`${broker.url}/login/callback?`)).toBe(true);
  return url;
}

/** The callback is refused with a JSON error and the browser has no session afterwards. */
async function expectRefused(browser: PersonBrowser, res: Response, code = 'invalid_request'): Promise<Record<string, unknown>> {
  expect(res.status).toBe(code === 'temporarily_unavailable' ? 503 : 400);
  expect(res.headers.get('content-type')).toBe('application/json');
  const body = (await res.json()) as Record<string, unknown>;
  expect(body.error).toBe(code);
  expect(res.headers.getSetCookie().some((c) => c.startsWith('atb_session=') && !/Max-Age=0/.test(c))).toBe(false);
  expect((await browser.request(`${broker.url}/session`)).status).toBe(401);
  return body;
}

function withParam(url: string, name: string, value: string | undefined): string {
  const u = new URL(url);
  if (value === undefined) u.searchParams.delete(name);
  else u.searchParams.set(name, value);
  return u.href;
}

/** Re-signs an ID token with the directory's own key after `change` edited its claims. */
const resigned = (change: (claims: Record<string, unknown>) => void) => async (token: string) => {
  const claims = decodeJwt(token) as Record<string, unknown>;
  change(claims);
  return directory.signRaw(JSON.stringify(decodeProtectedHeader(token)), JSON.stringify(claims));
};

describe('the login callback', () => {
  it('the authorization request uses PKCE S256, state and nonce', async () => {
    const res = await new PersonBrowser().request(`${broker.url}/login`);
    const location = new URL(res.headers.get('location')!);
    expect(location.origin).toBe(directory.issuer);
    expect(location.searchParams.get('code_challenge_method')).toBe('S256');
    expect(location.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(location.searchParams.get('state')).toBeTruthy();
    expect(location.searchParams.get('nonce')).toBeTruthy();
    expect(location.searchParams.get('redirect_uri')).toBe(`${broker.url}/login/callback`);
  });

  it('callback-replay: the same code and state a second time make no session', async () => {
    const browser = new PersonBrowser();
    const callback = await callbackOf(browser);
    const loginCookie = browser.cookie(broker.url, 'atb_login')!;
    expect((await browser.request(callback)).status).toBe(303);
    // The attacker replays the whole answer, the pending-login cookie included, from a browser of their own.
    const replayer = new PersonBrowser();
    replayer.setCookie(broker.url, 'atb_login', loginCookie);
    const body = await expectRefused(replayer, await replayer.request(callback));
    expect(body.error_description).toMatch(/log in again/);
  });

  it('callback-missing-state', async () => {
    const browser = new PersonBrowser();
    const callback = await callbackOf(browser);
    await expectRefused(browser, await browser.request(withParam(callback, 'state', undefined)));
  });

  it('callback-altered-state', async () => {
    const browser = new PersonBrowser();
    const callback = await callbackOf(browser);
    const state = new URL(callback).searchParams.get('state')!;
    await expectRefused(browser, await browser.request(withParam(callback, 'state', state.slice(0, -2) + 'xx')));
  });

  it('callback-of-another-browser: a callback is refused with the login cookie of another pending login', async () => {
    const victim = new PersonBrowser();
    const victimCallback = await callbackOf(victim);
    // The attacker has a pending login of their own, and opens the victim's callback (or makes the victim open theirs).
    const attacker = new PersonBrowser();
    await attacker.request(`${broker.url}/login`);
    expect(attacker.cookie(broker.url, 'atb_login')).toBeDefined();
    await expectRefused(attacker, await attacker.request(victimCallback));
    // A browser with no pending login at all.
    const stranger = new PersonBrowser();
    await expectRefused(stranger, await stranger.request(victimCallback));
  });

  it('callback-iss-parameter-of-another-issuer (RFC 9207 mix-up)', async () => {
    const browser = new PersonBrowser();
    const callback = await callbackOf(browser);
    expect(new URL(callback).searchParams.get('iss')).toBe(directory.issuer);
    await expectRefused(browser, await browser.request(withParam(callback, 'iss', 'https://rogue.example')));
  });

  it.each<[string, (claims: Record<string, unknown>) => void]>([
    ['id-token-with-another-nonce', (c) => (c.nonce = 'a-nonce-of-another-login')],
    ['id-token-from-another-issuer (signed with the directory key)', (c) => (c.iss = 'https://rogue.example')],
    ['id-token-for-another-client', (c) => (c.aud = 'another-relying-party')],
    ['id-token-expired', (c) => Object.assign(c, { iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600 })],
  ])('%s', async (_name, change) => {
    const browser = new PersonBrowser();
    const callback = await callbackOf(browser);
    rewriteIdToken = resigned(change);
    await expectRefused(browser, await browser.request(callback));
  });

  it('id-token-signed-by-a-rogue-directory: the right claims under a key the directory does not publish', async () => {
    const browser = new PersonBrowser();
    const callback = await callbackOf(browser);
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    rewriteIdToken = async (token) => {
      const [header, payload] = token.split('.').slice(0, 2).map((p) => Buffer.from(p, 'base64url').toString('utf8'));
      return signCompactEs256(privateKey, header!, payload!);
    };
    await expectRefused(browser, await browser.request(callback));
  });

  it('session-fixation: a session id planted before login is not the one after', async () => {
    // The attacker logs in as themselves and plants their own session id in the victim's browser.
    const attacker = new PersonBrowser();
    await loginAs(attacker, broker.url, 'bob', 'bob-password');
    const planted = attacker.cookie(broker.url, 'atb_session')!;
    expect(planted).toBeDefined();
    const victim = new PersonBrowser();
    victim.setCookie(broker.url, 'atb_session', planted);
    await loginAs(victim, broker.url, 'alice', 'alice-password');
    const victimId = victim.cookie(broker.url, 'atb_session');
    expect(victimId).toBeDefined();
    expect(victimId).not.toBe(planted);
    // The planted id never becomes alice's session: it is ended.
    const res = await attacker.request(`${broker.url}/session`);
    expect(res.status).toBe(401);
  });

  it.each([
    ['return-to-protocol-relative', '//evil.example/path'],
    ['return-to-absolute-url', 'https://evil.example/'],
    ['return-to-backslash', '/\\evil.example'],
    ['return-to-double-backslash', '/\\\\evil.example'],
    ['return-to-javascript-scheme', 'javascript:alert(1)'],
    ['return-to-tab-in-slashes', '/\t/evil.example'],
  ])('%s: the login lands on /console', async (_name, returnTo) => {
    const browser = new PersonBrowser();
    const callback = await callbackOf(browser, returnTo);
    const res = await browser.request(callback);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`${broker.url}/console`);
  });

  it('return-to-same-origin-path is kept, query included', async () => {
    const browser = new PersonBrowser();
    const res = await browser.request(await callbackOf(browser, '/console/prod?dag=etl_daily'));
    expect(res.headers.get('location')).toBe(`${broker.url}/console/prod?dag=etl_daily`);
  });
});

describe('logout', () => {
  async function loggedIn(): Promise<{ browser: PersonBrowser; csrf: string; id: string }> {
    const browser = new PersonBrowser();
    await loginAs(browser, broker.url, 'alice', 'alice-password');
    const csrf = ((await (await browser.request(`${broker.url}/session`)).json()) as { csrf_token: string }).csrf_token;
    return { browser, csrf, id: browser.cookie(broker.url, 'atb_session')! };
  }
  const logout = (browser: PersonBrowser, headers: Record<string, string>, form: Record<string, string> = {}) =>
    browser.request(`${broker.url}/logout`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(form) });

  it('logout-without-csrf-token: a page of another site cannot log the person out', async () => {
    const { browser } = await loggedIn();
    const res = await logout(browser, {});
    expect(res.status).toBe(403);
    expect(((await res.json()) as { reason: string }).reason).toBe('csrf-token-missing-or-wrong');
    expect((await browser.request(`${broker.url}/session`)).status).toBe(200);
  });

  it('logout ends the session and goes on to the directory\'s end_session_endpoint (RP-initiated logout)', async () => {
    const { browser, csrf, id } = await loggedIn();
    const res = await logout(browser, { 'x-csrf-token': csrf });
    expect(res.status).toBe(303);
    const to = new URL(res.headers.get('location')!);
    expect(to.origin).toBe(directory.issuer);
    expect(to.searchParams.get('post_logout_redirect_uri')).toBe(`${broker.url}/login/logged-out`);
    expect(decodeJwt(to.searchParams.get('id_token_hint')!).sub).toBe('alice');
    expect((await browser.request(`${broker.url}/session`)).status).toBe(401);
    // The old id, replayed by whoever copied it, is dead too.
    const copy = new PersonBrowser();
    copy.setCookie(broker.url, 'atb_session', id);
    expect((await copy.request(`${broker.url}/session`)).status).toBe(401);
    // The directory accepts the logout request (a post_logout_redirect_uri it does not know would be a 400).
    const atDirectory = await browser.request(to.href);
    expect(atDirectory.status).toBe(200);
  });

  it('logout with the csrf_token form field works like the header', async () => {
    const { browser, csrf } = await loggedIn();
    const res = await logout(browser, {}, { csrf_token: csrf });
    expect(res.status).toBe(303);
    expect((await browser.request(`${broker.url}/session`)).status).toBe(401);
  });
});

describe('session timeouts', () => {
  let skew = 0;
  let clocked: Broker;
  beforeAll(async () => {
    clocked = await startLoginBroker(directory, { login: { session: { idle_timeout: '30m', absolute_timeout: '1h' } }, overrides: { now: () => Date.now() + skew } });
  });
  afterAll(() => clocked.close());

  const minutes = (m: number) => m * 60_000;
  const sessionStatus = async (browser: PersonBrowser) => (await browser.request(`${clocked.url}/session`)).status;

  it('session-past-idle-timeout: unused for longer than idle_timeout, the session is gone', async () => {
    skew = 0;
    const browser = new PersonBrowser();
    await loginAs(browser, clocked.url, 'alice', 'alice-password');
    skew = minutes(10);
    expect(await sessionStatus(browser)).toBe(200);
    skew = minutes(41);
    expect(await sessionStatus(browser)).toBe(401);
  });

  it('session-past-absolute-timeout: however active, the session ends absolute_timeout after login', async () => {
    skew = 0;
    const browser = new PersonBrowser();
    await loginAs(browser, clocked.url, 'alice', 'alice-password');
    for (const m of [25, 50]) {
      skew = minutes(m);
      expect(await sessionStatus(browser)).toBe(200);
    }
    skew = minutes(61);
    expect(await sessionStatus(browser)).toBe(401);
  });
});
