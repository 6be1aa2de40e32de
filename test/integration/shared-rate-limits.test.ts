import type { DevDirectory } from '../../scripts/dev-directory.js';
import { configSchema, type ConfigInput } from '../../src/config/schema.js';
import { sharedRedisConnection } from '../../src/redis/shared-redis.js';
import { basic, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';

/**
 * Token-endpoint rate limits of instances behind one load balancer, shared through a real Redis: N instances allow
 * each limit once, not N times. While Redis cannot answer, each instance limits on its own (never a 500, never
 * unlimited): the policy in docs/security-model.md, "Rate limits across instances".
 */
let directory: DevDirectory;
let redis: RedisServer;
beforeAll(async () => {
  [directory, redis] = await Promise.all([startDirectory(), startRedis()]);
});
afterAll(async () => {
  await directory.close();
  await redis.stop();
});

const limits = { per_client: { requests: 3, per: '1m' }, per_ip: { requests: 6, per: '1m' } };

/** Two instances of one broker (one issuer, one keys directory), each with `rateLimits`. */
async function twoInstances(rateLimits: (url: string) => ConfigInput['rate_limits'], extra: (c: ConfigInput) => void = () => {}): Promise<[Broker, Broker]> {
  process.env.ATB_TEST_REDIS_URL = redis.url;
  const prefix = `limits-${Math.random()}:`;
  const configure = (c: ConfigInput) => {
    c.rate_limits = rateLimits(prefix);
    extra(c);
  };
  const a = await startBroker(directory, { configure });
  const b = await startBroker(directory, {
    configure: (c) => {
      configure(c);
      c.issuer = a.url;
      c.keys = { dir: `${a.dir}/keys` };
    },
  });
  return [a, b];
}

const token = (broker: Broker, clientId: string, secret: string) => tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic(clientId, secret) });

describe('with the revocation store in Redis (rate_limits.store auto)', () => {
  let a: Broker;
  let b: Broker;
  beforeAll(async () => {
    const revocations = { store: 'redis', redis: { url: '${ATB_TEST_REDIS_URL}', key_prefix: `revoked-${Math.random()}:` } } as const;
    [a, b] = await twoInstances(
      () => limits,
      (c) => void (c.revocation = revocations),
    );
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('rate-limit-multiplied-by-instances: per client, two instances allow the limit once', async () => {
    expect(await statusesInTurn([a, b, a, b], () => 'demo-etl', (i) => `guess-${i}`)).toEqual([401, 401, 401, 429]);
    const limited = await token(a, 'demo-etl', 'demo-etl-secret');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('rate-limit-multiplied-by-instances: per address, other clients on the other instance are limited too', async () => {
    // The 5 requests above came from this address too: one more passes, then every instance refuses.
    expect(await statusesInTurn([b, a, b, a], (i) => `client-${i}`, () => 'x')).toEqual([401, 429, 429, 429]);
  });
});

describe('rate_limits.redis of its own, and Redis stopped while limiting', () => {
  let own: RedisServer;
  let a: Broker;
  let b: Broker;
  beforeAll(async () => {
    own = await startRedis();
    process.env.ATB_TEST_OWN_REDIS_URL = own.url;
    [a, b] = await twoInstances((prefix) => ({ ...limits, store: 'redis', redis: { url: '${ATB_TEST_OWN_REDIS_URL}', key_prefix: prefix } }));
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await own?.stop();
  });

  it('rate-limit-multiplied-by-instances: shared through rate_limits.redis with a sqlite revocation store', async () => {
    expect(await statusesInTurn([a, b, a, b], () => 'svc-reporting', (i) => `guess-${i}`)).toEqual([401, 401, 401, 429]);
  });

  it('rate-limiter-redis-down-answers-500: each instance limits on its own, never a 500, never unlimited', async () => {
    await own.stop();
    const atA: number[] = [];
    for (let i = 0; i < 4; i++) atA.push((await token(a, 'demo-etl', i === 0 ? 'demo-etl-secret' : `guess-${i}`)).status);
    // Per process now: A allows its own 3 (a real token among them: the endpoint still works), then refuses.
    expect(atA).toEqual([200, 401, 401, 429]);
    const atB = await token(b, 'demo-etl', 'demo-etl-secret');
    expect(atB.status).toBe(200);
  });
});

it('config: rate_limits.store redis needs a Redis to share them in', () => {
  const base = { issuer: 'https://broker.example', policy_file: './policy.yaml', directories: {}, upstreams: { prod: { audience: 'https://airflow.example' } } };
  const issues = configSchema.safeParse({ ...base, rate_limits: { store: 'redis' } }).error?.issues ?? [];
  expect(issues.map((i) => [i.path.join('.'), i.message])).toEqual([['rate_limits.redis', 'store: redis needs rate_limits.redis.url (or revocation.store redis)']]);
  // Sharing through the revocation store's Redis, or counting per process, needs nothing more.
  process.env.ATB_TEST_SHARED_REDIS_URL = 'redis://r:6379';
  const revocation = { store: 'redis', redis: { url: '${ATB_TEST_SHARED_REDIS_URL}', key_prefix: 'b1:' } } as const;
  expect(sharedRedisConnection(configSchema.parse({ ...base, revocation }))).toEqual({ url: 'redis://r:6379', key_prefix: 'b1:rate:', connect_timeout: 5_000 });
  expect(sharedRedisConnection(configSchema.parse({ ...base, rate_limits: { store: 'process' }, revocation }))).toBeUndefined();
  expect(sharedRedisConnection(configSchema.parse(base))).toBeUndefined();
});

/** The token endpoint's status for request i at `order[i]`, one after the other (the limit counts in order). */
async function statusesInTurn(order: Broker[], client: (i: number) => string, secret: (i: number) => string): Promise<number[]> {
  const statuses: number[] = [];
  for (const [i, broker] of order.entries()) statuses.push((await token(broker, client(i), secret(i))).status);
  return statuses;
}
