import type { DevDirectory } from '../../scripts/dev-directory.js';
import { startBroker, startDirectory, type Broker } from '../helpers/broker-harness.js';
import { startLoginBroker } from '../helpers/login-broker.js';
import { loginAs, PersonBrowser } from '../helpers/person-browser.js';

let directory: DevDirectory;
let broker: Broker;

beforeAll(async () => {
  directory = await startDirectory();
  broker = await startLoginBroker(directory);
});
afterAll(async () => {
  await broker.close();
  await directory.close();
});

async function session(browser: PersonBrowser): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await browser.request(`${broker.url}/session`);
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

describe('people log in with the directory', () => {
  it('alice logs in at the directory\'s login page and lands on her return address with a session', async () => {
    const browser = new PersonBrowser();
    const { res, url } = await loginAs(browser, broker.url, 'alice', 'alice-password', { returnTo: '/console/prod' });
    expect(url).toBe(`${broker.url}/console/prod`);
    expect(res.status).toBe(404); // the console is not served by this branch: only the landing address matters
    const s = await session(browser);
    expect(s.status).toBe(200);
    expect(s.headers.get('cache-control')).toBe('no-store');
    expect(s.body).toMatchObject({ subject: 'alice', name: 'Alice Example', email: 'alice@example.com', groups: ['airflow-etl'], roles: ['etl-operator'], deployments: ['prod', 'staging'] });
    expect(s.body.csrf_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(s.body.expires_at as string)).toBeGreaterThan(Date.now());
    expect(JSON.stringify(s.body)).not.toMatch(/eyJ/); // no token of any kind
  });

  it('the session cookie is HttpOnly, SameSite=Lax, on path /, and not Secure on an http issuer', async () => {
    const browser = new PersonBrowser();
    const start = await browser.request(`${broker.url}/login`);
    expect(start.status).toBe(303);
    const loginCookie = start.headers.getSetCookie().find((c) => c.startsWith('atb_login='));
    expect(loginCookie).toMatch(/HttpOnly/);
    expect(loginCookie).toMatch(/SameSite=Lax/);
    const form = await browser.follow(start.headers.get('location')!);
    await form.res.text();
    const toCallback = await browser.follow(form.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=alice&password=alice-password' }, (u) => u.startsWith(`${broker.url}/login/callback`));
    const callback = await browser.request(toCallback.url);
    expect(callback.status).toBe(303);
    const cookie = callback.headers.getSetCookie().find((c) => c.startsWith('atb_session='))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).toMatch(/Path=\//);
    expect(cookie).not.toMatch(/Secure/);
    expect(callback.headers.get('location')).toBe(`${broker.url}/console`);
  });

  it('bob, in no group, logs in and has no role anywhere', async () => {
    const browser = new PersonBrowser();
    await loginAs(browser, broker.url, 'bob', 'bob-password');
    const s = await session(browser);
    expect(s.status).toBe(200);
    expect(s.body).toMatchObject({ subject: 'bob', groups: [], roles: [], deployments: [] });
  });

  it('a wrong password is refused at the directory\'s login page: no session', async () => {
    const browser = new PersonBrowser();
    const { res, url } = await loginAs(browser, broker.url, 'alice', 'not-her-password');
    expect(res.status).toBe(401);
    expect(new URL(url).origin).toBe(directory.issuer);
    expect(await res.text()).toMatch(/Wrong user name or password/);
    expect((await session(browser)).status).toBe(401);
  });

  it('GET /session without a session is 401 login_required', async () => {
    const s = await session(new PersonBrowser());
    expect(s.status).toBe(401);
    expect(s.body.error).toBe('login_required');
    expect(s.headers.get('www-authenticate')).toMatch(/^Bearer /);
  });

  it('without a login block, /login and /session are 404', async () => {
    const plain = await startBroker(directory);
    try {
      expect((await fetch(`${plain.url}/login`, { redirect: 'manual' })).status).toBe(404);
      expect((await fetch(`${plain.url}/session`)).status).toBe(404);
    } finally {
      await plain.close();
    }
  });

  it('directory-down-at-callback: 503 temporarily_unavailable with Retry-After, never a 500 nor a session', async () => {
    const flaky = await startDirectory();
    const b = await startLoginBroker(flaky);
    try {
      const browser = new PersonBrowser();
      const { url } = await loginAs(browser, b.url, 'alice', 'alice-password', { stopAtCallback: true });
      await flaky.close();
      const res = await browser.request(url);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(((await res.json()) as { error: string }).error).toBe('temporarily_unavailable');
      expect((await browser.request(`${b.url}/session`)).status).toBe(401);
    } finally {
      await b.close();
    }
  });

  it('directory-never-reached: GET /login is 503 temporarily_unavailable', async () => {
    const gone = await startDirectory();
    await gone.close();
    const b = await startLoginBroker(gone);
    try {
      const res = await fetch(`${b.url}/login`, { redirect: 'manual' });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: string }).error).toBe('temporarily_unavailable');
    } finally {
      await b.close();
    }
  });

  it('login-start-flood: GET /login is rate limited per address, so pending logins cannot crowd sessions out of the store', async () => {
    const b = await startLoginBroker(directory, { configure: (c) => void (c.rate_limits = { per_ip: { requests: 2, per: '1m' } }) });
    try {
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await fetch(`${b.url}/login`, { redirect: 'manual' })).status);
      expect(statuses).toEqual([303, 303, 429]);
    } finally {
      await b.close();
    }
  });
});

