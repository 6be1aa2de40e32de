import { gunzipSync } from 'node:zlib';
import { request } from 'undici';
import { parsePolicy } from '../../src/policy/policy-file.js';
import type { Broker } from '../helpers/broker-harness.js';
import { startBrokerBeforeStandIn, type RecordingUpstream, type StandInSetup } from '../helpers/recording-upstream.js';

/**
 * Fault injection and header hygiene against a stand-in upstream (the one place a fake Airflow is used:
 * behaviours a real Airflow cannot be made to show on demand, and asserting exactly what the upstream received).
 */

let setup: StandInSetup;
let upstream: RecordingUpstream;
let broker: Broker;
let token: string;

beforeAll(async () => {
  setup = await startBrokerBeforeStandIn({ login_backoff: '1s' });
  ({ upstream, broker, token } = setup);
});
afterAll(() => setup.close());
beforeEach(() => upstream.reset());

const get = (headers: Record<string, string> = {}, signal?: AbortSignal) =>
  fetch(`${broker.url}/airflow/prod/api/v2/dags/etl_daily`, { headers: { authorization: `Bearer ${token}`, ...headers }, signal });

async function until(condition: () => boolean, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('what the upstream receives', () => {
  it('the proxy credentials, never the caller credentials, cookies or forwarding headers', async () => {
    const res = await get({
      cookie: '_token=caller-cookie',
      'x-forwarded-for': '10.0.0.1',
      'x-forwarded-host': 'evil.example',
      forwarded: 'for=10.0.0.1',
      'x-real-ip': '10.0.0.1',
      'x-request-id': 'trace-123',
      accept: 'application/json',
    });
    expect(res.status).toBe(200);
    const got = upstream.seen.at(-1)!;
    expect(got.url).toBe('/api/v2/dags/etl_daily');
    expect(got.headers.authorization).toMatch(/^Bearer eyJhbGciOiJIUzI1NiJ9\./);
    expect(got.headers.authorization).not.toContain(token);
    for (const h of ['cookie', 'x-forwarded-for', 'x-forwarded-host', 'forwarded', 'x-real-ip']) expect(got.headers).not.toHaveProperty(h);
    expect(got.headers['x-request-id']).toBe('trace-123');
    expect(got.headers.accept).toBe('application/json');
  });

  it('the caller never receives upstream cookies, Server or Location headers', async () => {
    const res = await get();
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(res.headers.get('server')).toBeNull();
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.get('x-request-id')).toEqual(expect.any(String));
  });

  it('the path and query string are forwarded byte for byte', async () => {
    await fetch(`${broker.url}/airflow/prod/api/v2/dags/etl_daily?x=a%20b&y=%C3%A9`, { headers: { authorization: `Bearer ${token}` } });
    expect(upstream.seen.at(-1)!.url).toBe('/api/v2/dags/etl_daily?x=a%20b&y=%C3%A9');
  });

  it('a filtered list keeps the caller\'s filters and pages itself', async () => {
    await fetch(`${broker.url}/airflow/prod/api/v2/dags?dag_id_pattern=etl_%25&limit=5`, { headers: { authorization: `Bearer ${token}` } });
    expect(upstream.seen.at(-1)!.url).toBe('/api/v2/dags?dag_id_pattern=etl_%25&limit=100&offset=0');
  });
});

describe('policy swaps', () => {
  it('a request in flight finishes under the policy it started with; the next one sees the new policy', async () => {
    upstream.mode = 'late';
    const store = broker.services.policies;
    const before = store.current();
    const inFlight = get();
    await new Promise((r) => setTimeout(r, 100)); // decided and forwarded, upstream still answering
    store.replace(parsePolicy('deny-all.yaml', 'version: 1\nroles: {}\n'));
    try {
      expect((await inFlight).status).toBe(200);
      expect((await get()).status).toBe(403);
    } finally {
      store.replace(before);
    }
  });
});

describe('faults', () => {
  it('slow-upstream: 504 upstream_timeout after the headers timeout, no hang', async () => {
    upstream.mode = 'slow';
    const started = Date.now();
    const res = await get();
    expect(res.status).toBe(504);
    expect((await res.json()) as Record<string, unknown>).toMatchObject({ error: 'upstream_timeout' });
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it('dropped-connection: 502 upstream_error', async () => {
    upstream.mode = 'drop';
    const res = await get();
    expect(res.status).toBe(502);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ error: 'upstream_error' });
    expect(JSON.stringify(body)).not.toMatch(/127\.0\.0\.1|ECONN|socket/);
  });

  it.each(['stall-sized-body', 'stall-chunked-body'] as const)('upstream-%s: headers then nothing past the body timeout is 504 upstream_timeout JSON', async (mode) => {
    upstream.mode = mode;
    const started = Date.now();
    const res = await get();
    expect(res.status).toBe(504);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect((await res.json()) as Record<string, unknown>).toMatchObject({ error: 'upstream_timeout' });
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it('upstream-stalls-mid-body: the answer already started is cut, never completed', async () => {
    upstream.mode = 'stall-mid-body';
    const res = await get();
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
  });

  it('client-disconnects: the upstream request is aborted at once, not left to its own timeout', async () => {
    upstream.mode = 'slow';
    const client = new AbortController();
    const answered = get({}, client.signal).catch((err: unknown) => err);
    await until(() => upstream.seen.length === 1, 2_000);
    const abortedAt = Date.now();
    client.abort();
    await answered;
    // The headers timeout (1 s) would close it too: the abort must come well before.
    await until(() => upstream.seen[0]!.closedAt !== undefined, 2_000);
    expect(upstream.seen[0]!.closedAt! - abortedAt).toBeLessThan(500);
  });
});

/** The proxy's own Airflow login (login_backoff: 1s). Each test first lets an earlier back-off pass. */
describe('the proxy\'s Airflow login', () => {
  const backoffPassed = () => new Promise((r) => setTimeout(r, 1_100));

  it('expired-upstream-login: logs in again once and retries', async () => {
    expect((await get()).status).toBe(200);
    await backoffPassed(); // the token is older than the back-off: Airflow expiring it is no broken login
    upstream.refuseTokensUpTo = upstream.logins;
    const before = upstream.logins;
    const res = await get();
    expect(res.status).toBe(200);
    expect(upstream.logins).toBe(before + 1);
  });

  it('upstream-secret-changed: Airflow 3 answers 403 "Invalid JWT token" to the held token: logs in again once and retries', async () => {
    expect((await get()).status).toBe(200);
    await backoffPassed();
    upstream.refusal = 403; // Airflow restarted with another jwt_secret: it cannot verify the token it issued before
    upstream.refuseTokensUpTo = upstream.logins;
    const before = upstream.logins;
    const res = await get();
    expect(res.status).toBe(200);
    expect(upstream.logins).toBe(before + 1);
  });

  it('upstream-refuses-proxy-credentials-with-403: 502 saying so, not Airflow\'s 403 as if the caller were forbidden', async () => {
    await backoffPassed();
    upstream.mode = 'reject-token';
    upstream.refusal = 403;
    const res = await get();
    expect(res.status).toBe(502);
    expect((await res.json()) as Record<string, unknown>).toMatchObject({ error: 'upstream_error', error_description: "Airflow refused the proxy's credentials" });
  });

  it('upstream-forbids: Airflow\'s own permission refusal (403 "Forbidden") reaches the caller as is, without a new login', async () => {
    await backoffPassed();
    expect((await get()).status).toBe(200); // logged in
    upstream.mode = 'forbid';
    const before = upstream.logins;
    const res = await get();
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ detail: 'Forbidden' });
    expect(upstream.logins).toBe(before);
  });

  it('upstream-refuses-proxy-credentials: 502, not the upstream 401', async () => {
    await backoffPassed();
    upstream.mode = 'reject-token';
    const res = await get();
    expect(res.status).toBe(502);
    expect(res.headers.get('www-authenticate')).toBeNull();
  });

  it('upstream-rejects-proxy-login: 10 concurrent and 10 later calls cost Airflow one login, each answers 502', async () => {
    await backoffPassed();
    upstream.loginStatus = 401;
    upstream.refuseTokensUpTo = upstream.logins; // the token held is refused: the proxy must log in again
    const before = upstream.logins;
    const concurrent = await Promise.all(Array.from({ length: 10 }, () => get()));
    const later = [];
    for (let i = 0; i < 10; i++) later.push(await get());
    for (const res of [...concurrent, ...later]) {
      expect(res.status).toBe(502);
      expect(res.headers.get('retry-after')).toBe('1');
      expect((await res.json()) as Record<string, unknown>).toMatchObject({ error: 'upstream_error' });
    }
    expect(upstream.logins - before).toBe(1);

    // Once the back-off has passed, the next call logs in again, once.
    upstream.loginStatus = 201;
    await backoffPassed();
    expect((await get()).status).toBe(200);
    expect(upstream.logins - before).toBe(2);
  });

  it.each([
    ['a filtered list', '/dags', 401],
    ['a batch list rewrite', '/dags/~/dagRuns/list', 401],
    ['a filtered list, 403 "Invalid JWT token"', '/dags', 403],
    ['a batch list rewrite, 403 "Invalid JWT token"', '/dags/~/dagRuns/list', 403],
  ] as const)('upstream-refuses-proxy-credentials-during-list-scan (%s): 502 upstream_error, never a refusal the caller is blamed for', async (_, path, refusal) => {
    await backoffPassed();
    upstream.mode = 'reject-token';
    upstream.refusal = refusal;
    const post = path.endsWith('/list');
    const res = await fetch(`${broker.url}/airflow/prod/api/v2${path}`, {
      method: post ? 'POST' : 'GET',
      headers: { authorization: `Bearer ${token}`, ...(post ? { 'content-type': 'application/json' } : {}) },
      body: post ? '{}' : undefined,
    });
    expect(res.status).toBe(502);
    expect(res.headers.get('www-authenticate')).toBeNull();
    expect((await res.json()) as Record<string, unknown>).toMatchObject({ error: 'upstream_error', error_description: expect.stringContaining('proxy') });
  });

  it('upstream-refuses-fresh-tokens: a token refused right after its login backs off like a refused login', async () => {
    await backoffPassed();
    upstream.mode = 'reject-token';
    const before = upstream.logins;
    for (let i = 0; i < 10; i++) expect((await get()).status).toBe(502);
    expect(upstream.logins - before).toBe(1);
  });
});

/** The answer as sent on the wire (undici's `request` decodes nothing), and its body decoded. */
async function raw(path: string, headers: Record<string, string> = {}) {
  const res = await request(`${broker.url}/airflow/prod/api/v2${path}`, { headers: { authorization: `Bearer ${token}`, ...headers } });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  const encoding = res.headers['content-encoding'];
  const text = (encoding === 'gzip' ? gunzipSync(bytes) : bytes).toString();
  return { status: res.statusCode, headers: res.headers, bytes: bytes.length, json: JSON.parse(text) as Record<string, unknown> };
}

const dagIds = (body: Record<string, unknown>) => (body.dags as Array<{ dag_id: string }>).map((d) => d.dag_id);

/** Compression (issue #11, item 5): the stand-in compresses as GZipMiddleware alone would (from 1 kB), or as Airflow 3.3.2 does (everything). */
describe('accept-encoding-not-forwarded', () => {
  beforeAll(() => new Promise((r) => setTimeout(r, 1_100))); // past the login back-off the tests above leave
  beforeEach(() => (upstream.mode = 'dag-list'));
  it('a pass-through call carries the caller\'s Accept-Encoding (the codings the proxy can read) and relays the compressed answer', async () => {
    const res = await raw('/dags/etl_daily', { 'accept-encoding': 'gzip, br;q=0.5, zstd' });
    expect(upstream.seen.at(-1)!.headers['accept-encoding']).toBe('gzip, br;q=0.5');
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.headers.vary).toMatch(/accept-encoding/i);
    expect(dagIds(res.json)).toHaveLength(20);
  });

  it('without Accept-Encoding the upstream is asked for identity and the answer is plain', async () => {
    const res = await raw('/dags/etl_daily');
    expect(upstream.seen.at(-1)!.headers['accept-encoding']).toBe('identity');
    expect(res.headers['content-encoding']).toBeUndefined();
  });

  it('a long poll is never asked compressed (the proxy may have to end it with an error line)', async () => {
    upstream.mode = 'ndjson';
    await raw('/dags/etl_daily/dagRuns/manual_1/wait?interval=0.1', { 'accept-encoding': 'gzip' }).catch(() => undefined);
    expect(upstream.seen.at(-1)!.headers['accept-encoding']).toBe('identity');
  });
});

describe('filtered-list-never-compressed', () => {
  beforeEach(() => (upstream.mode = 'dag-list'));
  it('list scans ask Airflow for identity; the filtered list is gzip-compressed by the proxy, with Vary', async () => {
    upstream.dagCount = 60;
    const res = await raw('/dags', { 'accept-encoding': 'br, gzip' });
    expect(upstream.seen.length).toBeGreaterThan(0);
    for (const seen of upstream.seen) expect(seen.headers['accept-encoding']).toBe('identity');
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.headers.vary).toMatch(/accept-encoding/i);
    expect(Number(res.headers['content-length'])).toBe(res.bytes);
    expect(dagIds(res.json)).toHaveLength(20);
    expect(dagIds(res.json).every((id) => id.startsWith('etl_'))).toBe(true);
    expect(res.json.total_entries).toBe(20);
    const plain = await raw('/dags');
    expect(plain.json).toEqual(res.json);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers.vary).toMatch(/accept-encoding/i);
    expect(res.bytes).toBeLessThan(plain.bytes / 3);
  });

  it('a small filtered list stays uncompressed, and gzip;q=0 refuses gzip', async () => {
    upstream.dagCount = 3;
    const small = await raw('/dags', { 'accept-encoding': 'gzip' });
    expect(small.headers['content-encoding']).toBeUndefined();
    expect(dagIds(small.json)).toEqual(['etl_0']);
    upstream.dagCount = 60;
    const refused = await raw('/dags', { 'accept-encoding': 'gzip;q=0, identity' });
    expect(refused.headers['content-encoding']).toBeUndefined();
    expect(dagIds(refused.json)).toHaveLength(20);
  });
});

describe('compressed-invalid-jwt-refusal', () => {
  it('a gzip-compressed 403 "Invalid JWT token" is still the proxy\'s credentials refused: it logs in again once and retries', async () => {
    await new Promise((r) => setTimeout(r, 1_100)); // past the login back-off
    upstream.mode = 'ok';
    upstream.gzip = 'airflow';
    expect((await raw('/dags/etl_daily')).status).toBe(200); // logged in
    await new Promise((r) => setTimeout(r, 1_100));
    upstream.refusal = 403;
    upstream.refuseTokensUpTo = upstream.logins;
    const before = upstream.logins;
    const res = await raw('/dags/etl_daily', { 'accept-encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(upstream.logins).toBe(before + 1);
    expect(upstream.seen.at(-2)!.headers['accept-encoding']).toBe('gzip'); // the refused call was asked compressed
  });
});
