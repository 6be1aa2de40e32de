import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { generateKeyPair, SignJWT } from 'jose';
import { DEV_DIRECTORY_AUDIENCE } from '../../scripts/dev-directory.js';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { basic, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';

/** The directory is down, hangs, or was never reachable: the broker answers 503 quickly, never hangs or 500s. */

const etl = { authorization: basic('demo-etl', 'demo-etl-secret') };

function expectUnavailable(res: { status: number; headers: Headers; body: Record<string, unknown> }) {
  expect(res.status).toBe(503);
  expect(res.body.error).toBe('temporarily_unavailable');
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(JSON.stringify(res.body)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|fetch failed/);
}

describe('directory down', () => {
  let directory: DevDirectory;
  let broker: Broker;
  beforeAll(async () => {
    directory = await startDirectory();
    broker = await startBroker(directory);
    // Warm: discovery done and the directory JWKS cached by a first exchange.
    expect((await tokenRequest(broker, { grant_type: 'client_credentials' }, etl)).status).toBe(200);
  });
  afterAll(async () => broker.close());

  it('client_credentials answers 503 temporarily_unavailable with Retry-After', async () => {
    const subject = await fetch(`${directory.issuer}/token`, {
      method: 'POST',
      headers: { ...etl, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    }).then((r) => r.json() as Promise<{ access_token: string }>);
    await directory.close();
    expectUnavailable(await tokenRequest(broker, { grant_type: 'client_credentials' }, etl));
    // Token exchange keeps working on the cached JWKS while the directory is down.
    const exchanged = await tokenRequest(broker, {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: subject.access_token,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    });
    expect(exchanged.status).toBe(200);
  });
});

describe('directory never reachable', () => {
  let broker: Broker;
  /** Ready only while every function is (`server.readiness: all`, the verdict before readiness per function). */
  let strict: Broker;
  beforeAll(async () => {
    broker = await startBroker({ issuer: 'http://127.0.0.1:1' });
    strict = await startBroker({ issuer: 'http://127.0.0.1:1' }, { configure: (c) => void (c.server = { ...c.server, readiness: 'all' }) });
  });
  afterAll(async () => {
    await broker.close();
    await strict.close();
  });

  it('answers 503, and with server.readiness: all reports not ready', async () => {
    expectUnavailable(await tokenRequest(strict, { grant_type: 'client_credentials' }, etl));
    const ready = await fetch(`${strict.opsUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'not_ready', functions: { issuance: 'not_ready', proxy: 'ready' }, directories: { dev: 'unavailable' } });
    // The load balancer's probe on the main port: the same verdict, no detail.
    const main = await fetch(`${strict.url}/readyz`);
    expect(main.status).toBe(503);
    expect(await main.json()).toEqual({ status: 'not_ready' });
  });

  it('readiness-tied-to-the-directory: issuance is not ready, the proxy is, and by default the instance stays ready', async () => {
    expectUnavailable(await tokenRequest(broker, { grant_type: 'client_credentials' }, etl));
    const ready = await fetch(`${broker.opsUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'ready',
      functions: { issuance: 'not_ready', proxy: 'ready' },
      directories: { dev: 'unavailable' },
      verification_keys: 1,
    });
    const main = await fetch(`${broker.url}/readyz`);
    expect(main.status).toBe(200);
    expect(await main.json()).toEqual({ status: 'ready' });
    // What upstreams and the proxy verify broker tokens with is served without the directory.
    const jwks = await fetch(`${broker.url}/oauth2/jwks`);
    expect(jwks.status).toBe(200);
    expect(((await jwks.json()) as { keys: unknown[] }).keys).toHaveLength(1);
  });
});

describe('directory hangs', () => {
  let hanging: Server;
  const sockets: Socket[] = [];
  let broker: Broker;
  beforeAll(async () => {
    hanging = createServer((s) => void sockets.push(s)); // accepts, never answers
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
    broker = await startBroker({ issuer: `http://127.0.0.1:${(hanging.address() as AddressInfo).port}` }, {
      configure: (c) => void (c.directories.dev!.timeout = '1s'),
    });
  });
  afterAll(async () => {
    await broker.close();
    sockets.forEach((s) => s.destroy());
    hanging.close();
  });

  it('gives up after the configured timeout with 503', async () => {
    const started = Date.now();
    expectUnavailable(await tokenRequest(broker, { grant_type: 'client_credentials' }, etl));
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('directory key set broken', () => {
  let directory: DevDirectory;
  let broker: Broker;
  /** What the directory's JWKS endpoint answers instead of its keys; `undefined`: the real key set. */
  let fault: { status: number; body: string } | undefined;
  const exchange = (subject_token: string) =>
    tokenRequest(broker, {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    });
  const directoryToken = () =>
    fetch(`${directory.issuer}/token`, { method: 'POST', headers: { ...etl, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' })
      .then((r) => r.json() as Promise<{ access_token: string }>)
      .then((b) => b.access_token);

  beforeAll(async () => {
    directory = await startDirectory();
    // Fault injection at the real directory: only its JWKS endpoint misbehaves, discovery and tokens are its own.
    const provider = directory.server.listeners('request')[0] as (req: IncomingMessage, res: ServerResponse) => void;
    directory.server.removeAllListeners('request');
    directory.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (fault && req.url === '/jwks') res.writeHead(fault.status, { 'content-type': 'application/json' }).end(fault.body);
      else provider(req, res);
    });
    broker = await startBroker(directory);
  });
  afterAll(async () => {
    await broker.close();
    await directory.close();
  });

  it.each([
    ['answers 500', { status: 500, body: '{"error":"server_error"}' }],
    ['answers malformed JSON', { status: 200, body: '{"keys": [' }],
    ['answers JSON that is no key set', { status: 200, body: '{"keys": "none"}' }],
    ['redirects', { status: 302, body: '' }],
  ])('directory-outage-blamed-on-the-token: JWKS %s on first use, exchange answers 503', async (_what, answer) => {
    const token = await directoryToken();
    fault = answer;
    try {
      expectUnavailable(await exchange(token));
    } finally {
      fault = undefined;
    }
  });

  it('directory-outage-blamed-on-the-token: JWKS answers 500 while the directory token of client_credentials is checked, 503 not 500', async () => {
    fault = { status: 500, body: 'Internal Server Error' };
    try {
      expectUnavailable(await tokenRequest(broker, { grant_type: 'client_credentials' }, etl));
    } finally {
      fault = undefined;
    }
  });

  it('exchanges again once the key set is back', async () => {
    expect((await exchange(await directoryToken())).status).toBe(200);
  });

  it('directory-outage-blamed-on-the-token: JWKS answers 500 during the refetch for an unknown kid, exchange answers 503', async () => {
    // The key set was fetched by the tests above; an unknown kid refetches it at once (no refetch was due to one yet).
    const { privateKey } = await generateKeyPair('ES256');
    const rotated = await new SignJWT({ sub: 'demo-etl', client_id: 'demo-etl' })
      .setProtectedHeader({ alg: 'ES256', kid: 'rotated-2', typ: 'at+jwt' })
      .setIssuer(directory.issuer)
      .setAudience(DEV_DIRECTORY_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    fault = { status: 500, body: 'Internal Server Error' };
    try {
      expectUnavailable(await exchange(rotated));
    } finally {
      fault = undefined;
    }
    // With the directory back (the failed refetch started no cooldown), the unknown key is the token's fault again.
    const refused = await exchange(rotated);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_request');
  }, 60_000);
});
