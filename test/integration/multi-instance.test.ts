import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { basic, PROD_AUDIENCE, startDirectory } from '../helpers/broker-harness.js';
import { startBrokerProcess, type BrokerInstance } from '../helpers/broker-process.js';
import { startHaproxy, type LoadBalancer } from '../helpers/load-balancer.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';

/**
 * Two real `serve` processes sharing one Redis (revocations and rate limits) and one keys directory, behind a
 * loopback HAProxy (round robin, health checks on `/readyz`, retries on another instance): what operators run.
 * Times are measured and printed (docs/operations.md has the figures); the assertions are about behaviour.
 */
const SHARED_DELAY_MS = 1_000;
const PER_CLIENT = 40;

let directory: DevDirectory;
let redis: RedisServer;
let a: BrokerInstance;
let b: BrokerInstance;
let lb: LoadBalancer;

function config(directoryIssuer: string) {
  return ({ port, opsPort }: { port: number; opsPort: number }) =>
    [
      'issuer: http://127.0.0.1:8400',
      `server: { host: 127.0.0.1, port: ${port}, ops: { host: 127.0.0.1, port: ${opsPort} } }`,
      'policy_file: ./policy.yaml',
      'policy_watch: false',
      'keys: { dir: ./keys }',
      'directories:',
      `  dev: { issuer: "${directoryIssuer}", allow_insecure_http: true, client_credentials: { audience: urn:airflow-token-broker } }`,
      // A deployment whose Airflow is not running: the calls below are decided before it would be asked.
      `upstreams: { prod: { audience: "${PROD_AUDIENCE}", url: "http://127.0.0.1:9", credentials: { mode: service-account, username: p, password: "\${ATB_TEST_UNUSED_PASSWORD}" } } }`,
      'default_upstream: prod',
      `revocation: { store: redis, redis: { url: "\${ATB_TEST_REDIS_URL}" }, shared_delay: ${SHARED_DELAY_MS}ms }`,
      `rate_limits: { per_client: { requests: ${PER_CLIENT}, per: 1h }, per_ip: { requests: 100000, per: 1m } }`,
      'logging: { level: warn }',
      'audit: { destination: stderr }',
      '',
    ].join('\n');
}

beforeAll(async () => {
  const accounts = [
    { clientId: 'demo-etl', secret: 'demo-etl-secret', groups: ['airflow-etl'] },
    { clientId: 'svc-secadmin', secret: 'svc-secadmin-secret', groups: [] },
  ];
  [directory, redis] = await Promise.all([startDirectory({ accounts }), startRedis()]);
  const dir = mkdtempSync(join(tmpdir(), 'atb-multi-'));
  writeFileSync(join(dir, 'policy.yaml'), readFileSync(resolve('test/fixtures/policy/with-admin.yaml')));
  const env = { ATB_TEST_REDIS_URL: redis.url, ATB_TEST_UNUSED_PASSWORD: 'x' };
  // A first (it generates the signing key into the shared directory), then B.
  a = await startBrokerProcess('a', dir, config(directory.issuer), env);
  b = await startBrokerProcess('b', dir, config(directory.issuer), env);
  lb = await startHaproxy([a, b].map((x) => ({ name: x.name, port: x.port, opsPort: x.opsPort })));
  // Until the balancer's health checks have both instances in rotation: each has answered a token request.
  await until(async () => {
    await fetch(`${lb.url}/oauth2/token`, { method: 'POST', headers: { authorization: basic('warm-up', 'x'), 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' }).then((r) => r.arrayBuffer());
    return (await Promise.all([a, b].map((x) => metric(x, 'atb_token_requests_total{')))).every((n) => n > 0);
  }, 10_000);
}, 60_000);

afterAll(async () => {
  await lb?.stop();
  await Promise.all([a?.kill(), b?.kill()]);
  await Promise.all([redis?.stop(), directory?.close()]);
});

const etl = basic('demo-etl', 'demo-etl-secret');

async function token(at: string): Promise<string> {
  const res = await fetch(`${at}/oauth2/token`, { method: 'POST', headers: { authorization: etl, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** 403 (authenticated, then denied by policy): the instance accepted the token. 401: it refused it. */
const atProxy = (at: string, bearer: string) =>
  fetch(`${at}/airflow/prod/api/v2/dags/payroll_monthly`, { headers: { authorization: `Bearer ${bearer}` } }).then(async (r) => (await r.arrayBuffer(), r.status));

async function metric(x: BrokerInstance, line: string): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${x.opsPort}/metrics`).then((r) => r.text());
  const found = text.split('\n').find((l) => l.startsWith(line));
  return found === undefined ? 0 : Number(found.slice(found.lastIndexOf(' ') + 1));
}

async function until(check: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;

it('a token from one instance is accepted by the other, directly and through the balancer', async () => {
  expect(await atProxy(b.url, await token(a.url))).toBe(403);
  expect(await atProxy(a.url, await token(b.url))).toBe(403);
  const viaBalancer = await token(lb.url);
  const statuses = await Promise.all(Array.from({ length: 6 }, () => atProxy(lb.url, viaBalancer)));
  expect(statuses).toEqual(Array(6).fill(403));
});

it('a revocation on one instance is refused by the other within revocation.shared_delay', async () => {
  const took: number[] = [];
  for (let i = 0; i < 8; i++) {
    const t = await token(a.url);
    expect(await atProxy(b.url, t)).toBe(403); // B has checked it (and reuses "not revoked" for shared_delay)
    const revoked = await fetch(`${a.url}/oauth2/revoke`, { method: 'POST', headers: { authorization: etl, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: t }) });
    expect(revoked.status).toBe(200);
    const done = Date.now();
    while ((await atProxy(b.url, t)) !== 401) {
      // The window, with a margin for a slow shared machine (this is not a speed test).
      expect(Date.now() - done).toBeLessThan(SHARED_DELAY_MS + 1_500);
      await new Promise((r) => setTimeout(r, 20));
    }
    took.push(Date.now() - done);
  }
  console.log(`revocation propagation A -> B over ${took.length} revocations (shared_delay ${SHARED_DELAY_MS} ms): median ${median(took)} ms, max ${Math.max(...took)} ms`);
});

it('rate-limit-multiplied-by-instances: behind the balancer two instances allow the per-client limit once', async () => {
  const statuses: number[] = [];
  const probe = basic('rate-probe', 'wrong');
  const send = () => fetch(`${lb.url}/oauth2/token`, { method: 'POST', headers: { authorization: probe, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' }).then(async (r) => (await r.arrayBuffer(), statuses.push(r.status)));
  await Promise.all(Array.from({ length: 8 }, async () => {
    for (let i = 0; i < PER_CLIENT / 4; i++) await send();
  }));
  const allowed = statuses.filter((s) => s === 401).length;
  console.log(`rate limit with 2 instances: ${allowed} of ${statuses.length} requests allowed for a limit of ${PER_CLIENT} per hour`);
  expect({ allowed, limited: statuses.filter((s) => s === 429).length }).toEqual({ allowed: PER_CLIENT, limited: PER_CLIENT });
  // Both instances refused some: the limit held across them, not on one instance that got every request.
  const refusedBy = await Promise.all([a, b].map((x) => metric(x, 'atb_rate_limited_total{limit="per_client"}')));
  expect(refusedBy.every((n) => n > 0)).toBe(true);
});

it('recent-decisions-per-instance: GET /admin/decisions on one instance lists the decisions made on the other', async () => {
  const body = new URLSearchParams({ grant_type: 'client_credentials', resource: 'http://127.0.0.1:8400/admin' });
  const admin = await fetch(`${b.url}/oauth2/token`, { method: 'POST', headers: { authorization: basic('svc-secadmin', 'svc-secadmin-secret'), 'content-type': 'application/x-www-form-urlencoded' }, body });
  const adminToken = ((await admin.json()) as { access_token: string }).access_token;
  const deniedByPolicy = async () => {
    const res = await fetch(`${b.url}/admin/decisions?client_id=demo-etl&limit=1000`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { decisions: Array<Record<string, unknown>> }).decisions.filter((d) => d.reason === 'no-matching-grant');
  };
  const before = (await deniedByPolicy()).length;
  const bearer = await token(a.url);
  expect(await atProxy(a.url, bearer)).toBe(403);
  // Written off the proxy's path in batches: listed at B within a moment, never awaited by the proxied call.
  let listed: Array<Record<string, unknown>> = [];
  await until(async () => (listed = await deniedByPolicy()).length > before, 5_000);
  expect(listed[0]).toMatchObject({ event: 'proxy_decision', client_id: 'demo-etl', path: '/dags/payroll_monthly', decision: 'deny', reason: 'no-matching-grant' });
  expect(typeof listed[0]!.time).toBe('string');
});

it('one instance killed mid-traffic: no request fails beyond those in flight to it', async () => {
  const bearer = await token(lb.url);
  const failures: string[] = [];
  let answered = 0;
  let stop = false;
  const LOOPS = 4;
  const loops = Array.from({ length: LOOPS }, async () => {
    while (!stop) {
      const status = await atProxy(lb.url, bearer).catch((err: Error) => err.message);
      if (status === 403) answered++;
      else failures.push(String(status));
    }
  });
  await new Promise((r) => setTimeout(r, 500));
  await b.kill();
  const killedAt = answered;
  await new Promise((r) => setTimeout(r, 1_500));
  stop = true;
  await Promise.all(loops);
  console.log(`SIGKILL of one instance under ${LOOPS} concurrent callers: ${answered} answered (${answered - killedAt} after the kill), ${failures.length} failed ${JSON.stringify(failures)}`);
  expect(answered - killedAt).toBeGreaterThan(0);
  // At most one request per caller can have been in flight to the killed instance.
  expect(failures.length).toBeLessThanOrEqual(LOOPS);
}, 30_000);
