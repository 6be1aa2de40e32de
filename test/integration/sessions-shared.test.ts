import { createClient } from 'redis';
import { join } from 'node:path';
import type { ConfigInput } from '../../src/config/schema.js';
import { serviceAccountUpstream, startDirectory, type Broker } from '../helpers/broker-harness.js';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { startLoginBroker } from '../helpers/login-broker.js';
import { loginAs, PersonBrowser } from '../helpers/person-browser.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';

/**
 * Two broker instances behind one load balancer (one issuer, one keys directory) share people's sessions through
 * the configured session store: a real Redis, or one SQLite file on a shared volume. The browser talks to "the"
 * broker; which instance answers is the load balancer's choice, so each step goes to the other one.
 */
let directory: DevDirectory;
beforeAll(async () => {
  directory = await startDirectory();
});
afterAll(async () => directory.close());

type SessionStoreInput = NonNullable<ConfigInput['login']>['session_store'];

/** Instance A, and instance B configured as A's twin behind the same address. */
async function twoInstances(store: (a: Broker | undefined) => SessionStoreInput): Promise<[Broker, Broker]> {
  const a = await startLoginBroker(directory, { login: { session_store: store(undefined) } });
  const b = await startLoginBroker(directory, {
    login: { session_store: store(a) },
    configure: (c) => {
      c.issuer = a.url;
      c.keys = { dir: `${a.dir}/keys` };
    },
  });
  return [a, b];
}

/** The browser's cookies for A's address, sent to B: what a load balancer in front of both does. */
function sameAddress(browser: PersonBrowser, from: Broker, to: Broker): void {
  for (const [name, value] of browser.jars.get(from.url) ?? []) browser.setCookie(to.url, name, value);
}

async function session(browser: PersonBrowser, broker: Broker): Promise<{ status: number; body: Record<string, unknown>; cookies: string[] }> {
  const res = await browser.request(`${broker.url}/session`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, cookies: res.headers.getSetCookie() };
}

function logout(browser: PersonBrowser, broker: Broker, csrf: string): Promise<Response> {
  return browser.request(`${broker.url}/logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-csrf-token': csrf, origin: new URL(broker.services.config.issuer).origin },
    body: '',
  });
}

function sharedSessionsContract(make: () => Promise<[Broker, Broker]>): void {
  let a: Broker;
  let b: Broker;
  beforeAll(async () => {
    [a, b] = await make();
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('a session made on instance A is accepted on B, and a logout on B ends it on A', async () => {
    const browser = new PersonBrowser();
    await loginAs(browser, a.url, 'alice', 'alice-password');
    sameAddress(browser, a, b);
    const atB = await session(browser, b);
    expect(atB.status).toBe(200);
    expect(atB.body).toMatchObject({ subject: 'alice', groups: ['airflow-etl'], roles: ['etl-operator'] });
    expect((await session(browser, a)).status).toBe(200);
    const out = await logout(browser, b, atB.body.csrf_token as string);
    expect(out.status).toBe(303);
    const atA = await session(browser, a);
    expect(atA).toMatchObject({ status: 401, body: { error: 'login_required' } });
  });

  it('a login started on A completes on B: the pending login is shared, and taken once', async () => {
    const browser = new PersonBrowser();
    const { url } = await loginAs(browser, a.url, 'alice', 'alice-password', { stopAtCallback: true });
    sameAddress(browser, a, b);
    const callbackAtB = url.replace(a.url, b.url);
    const done = await browser.request(callbackAtB);
    expect(done.status).toBe(303);
    sameAddress(browser, b, a);
    expect((await session(browser, a)).body).toMatchObject({ subject: 'alice' });
    // The same callback replayed at A finds no pending login: B took it.
    const replay = await browser.request(url);
    expect(replay.status).toBe(400);
  });
}

describe('two instances sharing one Redis', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
    process.env.ATB_TEST_SESSION_REDIS_URL = redis.url;
  });
  afterAll(async () => redis?.stop());
  sharedSessionsContract(() => twoInstances(() => ({ store: 'redis', redis: { url: '${ATB_TEST_SESSION_REDIS_URL}', connect_timeout: '2s' } })));
});

describe('two instances sharing one SQLite file', () => {
  sharedSessionsContract(() => twoInstances((a) => ({ store: 'sqlite', ...(a ? { sqlite_path: join(a.dir, 'sessions.sqlite') } : {}) })));

  it('the default file is sessions.sqlite beside the revocation file', async () => {
    const broker = await startLoginBroker(directory);
    try {
      const browser = new PersonBrowser();
      await loginAs(browser, broker.url, 'bob', 'bob-password');
      const { DatabaseSync } = await import('node:sqlite');
      const db = new DatabaseSync(join(broker.dir, 'sessions.sqlite'), { readOnly: true });
      const keys = db.prepare('SELECT key FROM expiring_entries').all().map((r) => String(r.key));
      db.close();
      expect(keys.some((k) => k.startsWith('session:'))).toBe(true);
    } finally {
      await broker.close();
    }
  });
});

describe('the session store failing', () => {
  let redis: RedisServer;
  let broker: Broker;
  beforeAll(async () => {
    redis = await startRedis();
    process.env.ATB_TEST_FAILING_REDIS_URL = redis.url;
    broker = await startLoginBroker(directory, {
      login: { session_store: { store: 'redis', redis: { url: '${ATB_TEST_FAILING_REDIS_URL}', connect_timeout: '2s' } } },
      // An Airflow that is not running: the session is read before it would be asked.
      configure: (c) => (c.upstreams.prod = serviceAccountUpstream('http://127.0.0.1:9')),
    });
  });
  afterAll(async () => {
    await broker?.close();
    await redis?.stop();
  });

  /** Redis refuses every write and still answers reads: a primary cut off from its replicas. */
  async function refuseWrites(on: boolean): Promise<void> {
    const client = createClient({ url: redis.url });
    await client.connect();
    await client.configSet('min-replicas-to-write', on ? '1' : '0');
    await client.close();
  }

  function expectStoreUnavailable(res: Response, body: Record<string, unknown>): void {
    expect(res.status).toBe(503);
    expect(body).toMatchObject({ error: 'temporarily_unavailable', error_description: expect.stringContaining('session store') });
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(res.headers.getSetCookie().filter((c) => c.startsWith('atb_session='))).toEqual([]);
  }

  it('logout-not-done-reported-done: a logout the store could not record is a 503, and the session still works after', async () => {
    const browser = new PersonBrowser();
    await loginAs(browser, broker.url, 'alice', 'alice-password');
    const csrf = (await session(browser, broker)).body.csrf_token as string;
    await refuseWrites(true);
    try {
      const out = await logout(browser, broker, csrf);
      expectStoreUnavailable(out, (await out.json()) as Record<string, unknown>);
    } finally {
      await refuseWrites(false);
    }
    expect((await session(browser, broker)).body).toMatchObject({ subject: 'alice' });
    expect((await logout(browser, broker, csrf)).status).toBe(303);
    expect((await session(browser, broker)).status).toBe(401);
  });

  it('login-not-stored-but-answered: a login whose session cannot be stored is a 503, and no session cookie is set', async () => {
    const browser = new PersonBrowser();
    const { url } = await loginAs(browser, broker.url, 'alice', 'alice-password', { stopAtCallback: true });
    await refuseWrites(true);
    try {
      const res = await browser.request(url);
      expectStoreUnavailable(res, (await res.json()) as Record<string, unknown>);
    } finally {
      await refuseWrites(false);
    }
    expect((await session(browser, broker)).status).toBe(401);
  });

  it('session-store-down-taken-as-logged-out: with Redis down GET /session is the 503 naming the session store, never 401 login_required', async () => {
    const browser = new PersonBrowser();
    await loginAs(browser, broker.url, 'alice', 'alice-password');
    expect((await session(browser, broker)).status).toBe(200);
    await redis.stop();
    await new Promise((r) => setTimeout(r, 200));
    const res = await browser.request(`${broker.url}/session`);
    expectStoreUnavailable(res, (await res.json()) as Record<string, unknown>);
    // The proxy with that session is refused the same way, not answered as an anonymous caller.
    const call = await browser.request(`${broker.url}/airflow/prod/api/v2/dags`);
    expectStoreUnavailable(call, (await call.json()) as Record<string, unknown>);
  });
});
