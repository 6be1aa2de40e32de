import { createServer, get, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AirflowClient } from '../../src/airflow/airflow-client.js';
import type { UpstreamCredentials } from '../../src/airflow/credentials/upstream-credentials.js';
import { writeError } from '../../src/http/write-error.js';
import type { Deployment } from '../../src/proxy/deployments.js';
import { forward, type CallerCredentials } from '../../src/proxy/relay.js';

/**
 * The relay alone, on undici's dispatch handler, between a stand-in Airflow (fault injection: what a real one
 * cannot be made to do on demand) and a caller: the refusal retry, stalls, resets and backpressure.
 */

type Upstream = (req: IncomingMessage, res: ServerResponse) => void;

let upstreamServer: Server;
let proxyServer: Server;
let upstream: Upstream;
let client: AirflowClient;
const seen: (string | undefined)[] = [];

const listen = (server: Server) => new Promise<string>((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));

/** Credentials that hand out `Bearer 1`, then `Bearer 2`... each time fresh ones are asked for. */
function rotatingCredentials(): { deployment: Deployment; credentials: CallerCredentials } {
  let issued = 1;
  const upstreamCredentials: UpstreamCredentials = { mode: 'service-account', authorization: async () => `Bearer ${issued}`, invalidate: () => true };
  const deployment = { name: 'prod', client, credentials: upstreamCredentials } as unknown as Deployment;
  return { deployment, credentials: { current: async () => `Bearer ${issued}`, fresh: async () => `Bearer ${++issued}` } };
}

beforeAll(async () => {
  upstreamServer = createServer((req, res) => {
    seen.push(req.headers.authorization);
    upstream(req, res);
  });
  client = new AirflowClient({ url: await listen(upstreamServer), connectTimeoutMs: 1_000, headersTimeoutMs: 1_000, bodyTimeoutMs: 300 });
  proxyServer = createServer((req, res) => {
    res.setHeader('X-Request-Id', 'test');
    const { deployment, credentials } = rotatingCredentials();
    forward(deployment, { method: 'GET', path: req.url ?? '/', headers: {} }, credentials, res).catch((err: unknown) =>
      writeError(res, err, { scheme: 'Bearer', realm: 'test' }, undefined),
    );
  });
  await listen(proxyServer);
});
afterAll(async () => {
  // A failed test may leave a call unread: cut every connection rather than wait for it.
  proxyServer.closeAllConnections();
  upstreamServer.closeAllConnections();
  proxyServer.close();
  upstreamServer.close();
  await client.close();
});
beforeEach(() => (seen.length = 0));

const proxyUrl = (path = '/api/v2/dags') => `http://127.0.0.1:${(proxyServer.address() as AddressInfo).port}${path}`;

describe('relay on the dispatch handler', () => {
  it('upstream-refuses-then-accepts: a 401 is retried once with fresh credentials, and only the second answer reaches the caller', async () => {
    upstream = (req, res) => {
      if (req.headers.authorization === 'Bearer 1') return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"detail":"Not authenticated"}');
      res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'a=b', etag: '"v1"' }).end('{"dags":[]}');
    };
    const res = await fetch(proxyUrl());
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('{"dags":[]}');
    expect(res.headers.get('etag')).toBe('"v1"');
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(seen).toEqual(['Bearer 1', 'Bearer 2']);
  });

  it('upstream-refuses-twice: 502 about the proxy, never the 401', async () => {
    upstream = (_req, res) => void res.writeHead(401).end();
    const res = await fetch(proxyUrl());
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ error: 'upstream_error', error_description: "Airflow refused the proxy's credentials" });
    expect(seen).toHaveLength(2);
  });

  it('upstream-403-invalid-jwt-chunked: read whole to tell, retried, and the forbidden answer of the retry relayed as it is', async () => {
    upstream = (req, res) => {
      res.writeHead(403, { 'content-type': 'application/json' }); // chunked, no length
      res.end(req.headers.authorization === 'Bearer 1' ? '{"detail":"Invalid JWT token"}' : '{"detail":"Forbidden"}');
    };
    const res = await fetch(proxyUrl());
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ detail: 'Forbidden' });
    expect(seen).toEqual(['Bearer 1', 'Bearer 2']);
  });

  it('upstream-stalls-before-body: 504 upstream_timeout JSON, the status not yet committed', async () => {
    upstream = (_req, res) => void res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' }).flushHeaders();
    const res = await fetch(proxyUrl());
    expect(res.status).toBe(504);
    expect(await res.json()).toMatchObject({ error: 'upstream_timeout' });
  });

  it('upstream-resets-mid-body: the answer already started is cut, never ended cleanly', async () => {
    upstream = (req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(Buffer.alloc(128 * 1024, 1), () => setTimeout(() => req.socket.destroy(), 50));
    };
    const res = await fetch(proxyUrl());
    expect(res.status).toBe(200);
    await expect(res.arrayBuffer()).rejects.toThrow();
  });

  it('large-body-slow-caller: the proxy holds back Airflow instead of buffering the body, then relays every byte', async () => {
    const total = 64 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 7);
    let written = 0;
    upstream = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
      const pump = () => {
        while (written < total) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    };
    const caller = await new Promise<IncomingMessage>((resolve, reject) => get(proxyUrl(), resolve).on('error', reject));
    expect(caller.statusCode).toBe(200);
    await new Promise((r) => setTimeout(r, 500)); // the caller reads nothing meanwhile
    // Socket buffers on both sides hold a few MiB; a relay that read ahead would have taken all 64.
    expect(written).toBeLessThan(total / 2);
    let received = 0;
    for await (const part of caller) received += (part as Buffer).length;
    expect(received).toBe(total);
    expect(written).toBe(total);
  });
});
