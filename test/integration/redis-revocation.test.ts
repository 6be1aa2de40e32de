import { RedisRevocationStore } from '../../src/tokens/redis-revocation-store.js';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { basic, PROD_AUDIENCE, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { revocationStoreContract } from '../helpers/revocation-contract.js';
import { resolve } from 'node:path';

/** Revocations shared through a real Redis by every instance behind a load balancer. */
let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => redis.stop());

describe('redis revocation store', () =>
  revocationStoreContract((now) => RedisRevocationStore.connect({ url: redis.url, keyPrefix: `test:${Math.random()}:`, connectTimeoutMs: 2_000, now })));

describe('two broker instances sharing one Redis', () => {
  let directory: DevDirectory;
  let a: Broker;
  let b: Broker;
  const etl = { authorization: basic('demo-etl', 'demo-etl-secret') };
  const configure = (c: Parameters<NonNullable<Parameters<typeof startBroker>[1]>['configure'] & object>[0]) => {
    process.env.ATB_TEST_REDIS_URL = redis.url;
    process.env.ATB_TEST_UNUSED_PASSWORD = 'x';
    c.revocation = { store: 'redis', redis: { url: '${ATB_TEST_REDIS_URL}', key_prefix: 'shared:' }, shared_delay: '200ms' };
    // A deployment whose Airflow is not running: the calls below are decided before it would be asked.
    c.upstreams.prod = { audience: PROD_AUDIENCE, url: 'http://127.0.0.1:9', credentials: { mode: 'service-account', username: 'p', password: '${ATB_TEST_UNUSED_PASSWORD}' } };
  };

  beforeAll(async () => {
    directory = await startDirectory({
      accounts: [
        { clientId: 'demo-etl', secret: 'demo-etl-secret', groups: ['airflow-etl'] },
        { clientId: 'svc-secadmin', secret: 'svc-secadmin-secret', groups: [] },
      ],
    });
    a = await startBroker(directory, { policyFile: resolve('test/fixtures/policy/with-admin.yaml'), configure });
    // Behind a load balancer the instances share the issuer URL and the keys directory.
    b = await startBroker(directory, {
      policyFile: resolve('test/fixtures/policy/with-admin.yaml'),
      configure: (c) => {
        configure(c);
        c.issuer = a.url;
        c.keys = { dir: `${a.dir}/keys` };
      },
    });
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await directory.close();
  });

  const atProxy = (broker: Broker, token: string) =>
    fetch(`${broker.url}/airflow/prod/api/v2/dags/payroll_monthly`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);

  it('a client revoked through instance A is refused by instance B within the shared delay', async () => {
    const token = (await tokenRequest(a, { grant_type: 'client_credentials' }, etl)).body.access_token as string;
    expect(await atProxy(b, token)).toBe(403); // authenticated at B (then denied by policy): B trusts A's token
    const admin = (await tokenRequest(a, { grant_type: 'client_credentials', resource: `${a.url}/admin` }, { authorization: basic('svc-secadmin', 'svc-secadmin-secret') })).body
      .access_token as string;
    const revoked = await fetch(`${a.url}/admin/revocations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: 'demo-etl' }),
    });
    expect(revoked.status).toBe(201);
    expect(await atProxy(a, token)).toBe(401); // at once where it was revoked
    await new Promise((r) => setTimeout(r, 250)); // B's "not revoked" memory lasts shared_delay
    expect(await atProxy(b, token)).toBe(401);
    // The issuance block placed through A holds at B at once, and is lifted through B for both (one issuer).
    expect((await tokenRequest(b, { grant_type: 'client_credentials' }, etl)).status).toBe(401);
    const adminAtB = (await tokenRequest(b, { grant_type: 'client_credentials', resource: `${a.url}/admin` }, { authorization: basic('svc-secadmin', 'svc-secadmin-secret') })).body
      .access_token as string;
    const lifted = await fetch(`${b.url}/admin/blocks/client_id/demo-etl`, { method: 'DELETE', headers: { authorization: `Bearer ${adminAtB}` } });
    expect(((await lifted.json()) as { lifted: boolean }).lifted).toBe(true);
    expect((await tokenRequest(a, { grant_type: 'client_credentials' }, etl)).status).toBe(200);
  });

  it('fails closed: while Redis is down, token checks answer 503, never "not revoked"', async () => {
    await new Promise((r) => setTimeout(r, 1_100));
    const token = (await tokenRequest(a, { grant_type: 'client_credentials' }, etl)).body.access_token as string;
    await redis.stop();
    await new Promise((r) => setTimeout(r, 300));
    const res = await fetch(`${b.url}/airflow/prod/api/v2/dags/payroll_monthly`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(503);
    expect((await res.json()) as Record<string, unknown>).toMatchObject({ error: 'temporarily_unavailable' });
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    redis = await startRedis(Number(new URL(redis.url).port));
    // The client reconnects by itself.
    let status = 0;
    for (let i = 0; i < 40 && status !== 403; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = await atProxy(b, token);
    }
    expect(status).toBe(403);
  });
});
