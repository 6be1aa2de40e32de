import { createClient } from 'redis';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { basic, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';

/**
 * A revocation that could not be stored is never answered as a success: while the revocation store (a real
 * Redis) refuses writes or is down, every write path and every read of revocation state answers 503.
 */
let redis: RedisServer;
let directory: DevDirectory;
let broker: Broker;
const etl = basic('demo-etl', 'demo-etl-secret');

beforeAll(async () => {
  redis = await startRedis();
  directory = await startDirectory({
    accounts: [
      { clientId: 'demo-etl', secret: 'demo-etl-secret', groups: ['airflow-etl'] },
      { clientId: 'svc-secadmin', secret: 'svc-secadmin-secret', groups: [] },
    ],
  });
  broker = await startBroker(directory, {
    policyFile: resolve('test/fixtures/policy/with-admin.yaml'),
    configure: (c) => {
      process.env.ATB_TEST_REDIS_URL = redis.url;
      c.revocation = { store: 'redis', redis: { url: '${ATB_TEST_REDIS_URL}', key_prefix: 'outage:' }, shared_delay: '100ms' };
    },
  });
});
afterAll(async () => {
  await broker.close();
  await directory.close();
  await redis.stop();
});

async function issue(authorization = etl, resource?: string): Promise<string> {
  const res = await tokenRequest(broker, { grant_type: 'client_credentials', ...(resource ? { resource } : {}) }, { authorization });
  expect(res.status).toBe(200);
  return res.body.access_token as string;
}

async function post(path: string, params: Record<string, string>, authorization = etl) {
  const res = await fetch(`${broker.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization },
    body: new URLSearchParams(params),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** Redis refuses every write (NOREPLICAS) and still answers reads: what a primary cut off from its replicas does. */
async function refuseWrites(on: boolean): Promise<void> {
  const client = createClient({ url: redis.url });
  await client.connect();
  await client.configSet('min-replicas-to-write', on ? '1' : '0');
  await client.close();
}

/** Introspecting a valid token reads the store: 200 once the broker has reconnected. */
async function untilRedisAnswers(probe: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if ((await post('/oauth2/introspect', { token: probe })).status === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the broker did not reconnect to Redis');
}

function expectUnavailable(res: { status: number; headers: Headers; body: Record<string, unknown> }): void {
  expect(res.status).toBe(503);
  expect(res.body.error).toBe('temporarily_unavailable');
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
}

describe('Redis refusing writes', () => {
  it('redis-refusing-writes: POST /oauth2/revoke answers 503, and the retry after recovery revokes', async () => {
    const token = await issue();
    await refuseWrites(true);
    try {
      expectUnavailable(await post('/oauth2/revoke', { token }));
    } finally {
      await refuseWrites(false);
    }
    expect((await post('/oauth2/introspect', { token })).body.active).toBe(true); // nothing was stored: nothing claimed
    expect((await post('/oauth2/revoke', { token })).status).toBe(200);
    expect((await post('/oauth2/introspect', { token })).body).toEqual({ active: false });
  });

  it('admin revocations answer 503 and are not audited as done', async () => {
    const admin = await issue(basic('svc-secadmin', 'svc-secadmin-secret'), `${broker.url}/admin`);
    const audited = broker.audit.admins.length;
    await refuseWrites(true);
    try {
      for (const target of [{ jti: 'some-jti' }, { client_id: 'demo-etl' }, { sub: 'demo-etl' }]) {
        const res = await fetch(`${broker.url}/admin/revocations`, {
          method: 'POST',
          headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
          body: JSON.stringify(target),
        });
        expectUnavailable({ status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> });
      }
    } finally {
      await refuseWrites(false);
    }
    expect(broker.audit.admins.length).toBe(audited);
  });
});

describe('Redis down', () => {
  it('revocation-lost-while-answering-success: with the store down POST /oauth2/revoke answers 503, never 200', async () => {
    const token = await issue();
    const port = Number(new URL(redis.url).port);
    await redis.stop();
    try {
      await new Promise((r) => setTimeout(r, 200));
      expectUnavailable(await post('/oauth2/revoke', { token }));
    } finally {
      redis = await startRedis(port);
    }
    await untilRedisAnswers(token);
    expect((await post('/oauth2/revoke', { token })).status).toBe(200);
    expect((await post('/oauth2/introspect', { token })).body).toEqual({ active: false });
  });

  it('introspection-during-store-outage: 503, neither active:true nor active:false', async () => {
    const token = await issue();
    const port = Number(new URL(redis.url).port);
    await redis.stop();
    try {
      await new Promise((r) => setTimeout(r, 200));
      expectUnavailable(await post('/oauth2/introspect', { token }));
    } finally {
      redis = await startRedis(port);
    }
    await untilRedisAnswers(token);
    expect((await post('/oauth2/introspect', { token })).body.active).toBe(true);
  });
});

describe('SQLite locked by another process', () => {
  it('sqlite-refusing-writes: POST /oauth2/revoke answers 503 (not 500) while another writer holds the lock, and revokes after', async () => {
    const local = await startBroker(directory);
    try {
      const res = await tokenRequest(local, { grant_type: 'client_credentials' }, { authorization: etl });
      const token = res.body.access_token as string;
      const at = (path: string) =>
        fetch(`${local.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: etl }, body: new URLSearchParams({ token }) });
      // Another instance sharing the file holds the write lock past the store's busy timeout (5 s).
      const other = new DatabaseSync(join(local.dir, 'revocations.sqlite'));
      other.exec('BEGIN IMMEDIATE');
      let refused: Response;
      try {
        refused = await at('/oauth2/revoke');
      } finally {
        other.exec('ROLLBACK');
        other.close();
      }
      expectUnavailable({ status: refused.status, headers: refused.headers, body: (await refused.json()) as Record<string, unknown> });
      expect((await at('/oauth2/revoke')).status).toBe(200);
      expect(await (await at('/oauth2/introspect')).json()).toEqual({ active: false });
    } finally {
      await local.close();
    }
  }, 20_000);
});
