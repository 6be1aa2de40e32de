import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
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
  beforeAll(async () => {
    broker = await startBroker({ issuer: 'http://127.0.0.1:1' });
  });
  afterAll(async () => broker.close());

  it('answers 503 and reports not ready', async () => {
    expectUnavailable(await tokenRequest(broker, { grant_type: 'client_credentials' }, etl));
    const ready = await fetch(`${broker.opsUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'not_ready', directories: { dev: 'unavailable' } });
    // The load balancer's probe on the main port: the same verdict, no detail.
    const main = await fetch(`${broker.url}/readyz`);
    expect(main.status).toBe(503);
    expect(await main.json()).toEqual({ status: 'not_ready' });
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
