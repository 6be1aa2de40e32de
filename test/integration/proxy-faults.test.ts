import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { basic, PROD_AUDIENCE, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';

/**
 * Fault injection and header hygiene against a stand-in upstream (the one place a fake Airflow is used:
 * behaviours a real Airflow cannot be made to show on demand, and asserting exactly what the upstream received).
 */

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

let mode: 'ok' | 'slow' | 'late' | 'drop' | 'reject-token' | 'reject-once' = 'ok';
const seen: Seen[] = [];
let logins = 0;
const sockets = new Set<Socket>();

const upstream: Server = createServer((req, res) => {
  if (req.url === '/auth/token') {
    logins++;
    res.writeHead(201, { 'content-type': 'application/json' });
    // exp far in the future: the stand-in's token never expires on its own
    const payload = Buffer.from(JSON.stringify({ sub: 'proxy', exp: 4102444800 })).toString('base64url');
    res.end(JSON.stringify({ access_token: `eyJhbGciOiJIUzI1NiJ9.${payload}.c2ln-${logins}` }));
    return;
  }
  seen.push({ method: req.method!, url: req.url!, headers: req.headers });
  if (mode === 'slow') return; // never answers
  if (mode === 'late') {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"dag_id":"etl_daily"}');
    }, 300);
    return;
  }
  if (mode === 'drop') return req.socket.destroy();
  if (mode === 'reject-token' || (mode === 'reject-once' && req.headers.authorization?.endsWith('-1'))) {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end('{"detail":"Not authenticated"}');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': '_token=upstream-secret', server: 'uvicorn', location: 'http://internal/x' });
  res.end(JSON.stringify({ dag_id: 'etl_daily' }));
});
upstream.on('connection', (s) => {
  sockets.add(s);
  s.on('close', () => sockets.delete(s));
});

let directory: DevDirectory;
let broker: Broker;
let token: string;

beforeAll(async () => {
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  directory = await startDirectory();
  process.env.ATB_TEST_STANDIN_PASSWORD = 'stand-in-pass';
  broker = await startBroker(directory, {
    configure: (c) => {
      c.upstreams.prod = {
        audience: PROD_AUDIENCE,
        url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
        credentials: { mode: 'service-account', username: 'proxy', password: '${ATB_TEST_STANDIN_PASSWORD}' },
        timeouts: { connect: '1s', headers: '1s', body: '1s' },
      };
    },
  });
  token = (await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('demo-etl', 'demo-etl-secret') })).body.access_token as string;
});
afterAll(async () => {
  await broker.close();
  await directory.close();
  sockets.forEach((s) => s.destroy());
  upstream.close();
});
beforeEach(() => {
  mode = 'ok';
  seen.length = 0;
});

const get = (headers: Record<string, string> = {}) =>
  fetch(`${broker.url}/airflow/prod/api/v2/dags/etl_daily`, { headers: { authorization: `Bearer ${token}`, ...headers } });

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
    const got = seen.at(-1)!;
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
    expect(seen.at(-1)!.url).toBe('/api/v2/dags/etl_daily?x=a%20b&y=%C3%A9');
  });

  it('a filtered list keeps the caller\'s filters and pages itself', async () => {
    await fetch(`${broker.url}/airflow/prod/api/v2/dags?dag_id_pattern=etl_%25&limit=5`, { headers: { authorization: `Bearer ${token}` } });
    expect(seen.at(-1)!.url).toBe('/api/v2/dags?dag_id_pattern=etl_%25&limit=100&offset=0');
  });
});

describe('policy swaps', () => {
  it('a request in flight finishes under the policy it started with; the next one sees the new policy', async () => {
    mode = 'late';
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
    mode = 'slow';
    const started = Date.now();
    const res = await get();
    expect(res.status).toBe(504);
    expect((await res.json()) as Record<string, unknown>).toMatchObject({ error: 'upstream_timeout' });
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it('dropped-connection: 502 upstream_error', async () => {
    mode = 'drop';
    const res = await get();
    expect(res.status).toBe(502);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ error: 'upstream_error' });
    expect(JSON.stringify(body)).not.toMatch(/127\.0\.0\.1|ECONN|socket/);
  });

  it('expired-upstream-login: logs in again once and retries', async () => {
    mode = 'reject-once';
    const before = logins;
    const res = await get();
    expect(res.status).toBe(200);
    expect(logins).toBe(before + 1);
  });

  it('upstream-refuses-proxy-credentials: 502, not the upstream 401', async () => {
    mode = 'reject-token';
    const res = await get();
    expect(res.status).toBe(502);
    expect(res.headers.get('www-authenticate')).toBeNull();
  });
});
