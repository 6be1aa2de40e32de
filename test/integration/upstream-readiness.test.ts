import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { PROD_AUDIENCE, STAGING_AUDIENCE, startBroker, startDirectory, type Broker } from '../helpers/broker-harness.js';

/**
 * Regression (issue #7 item 21): `/readyz` said nothing about Airflow. Each proxied deployment is probed
 * (`GET <url>/api/v2/monitor/health`, no credentials) and shown in the ops `/readyz` and `atb_upstream_up`.
 * A stand-in upstream, so that it can be stopped and made to hang on demand.
 */

type Mode = 'healthy' | 'hang' | 'error';
let mode: Mode = 'healthy';
const probes: Array<{ url: string; authorization: string | undefined }> = [];
const sockets = new Set<Socket>();
let upstream: Server;
let upstreamUrl: string;

function startUpstream(port = 0): Promise<void> {
  upstream = createServer((req, res) => {
    probes.push({ url: req.url!, authorization: req.headers.authorization });
    if (mode === 'hang') return;
    res.writeHead(mode === 'healthy' ? 200 : 500, { 'content-type': 'application/json' });
    res.end(mode === 'healthy' ? '{"metadatabase":{"status":"healthy"}}' : 'Internal Server Error');
  });
  upstream.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((r) => upstream.listen(port, '127.0.0.1', () => r()));
}

async function stopUpstream(): Promise<void> {
  sockets.forEach((s) => s.destroy());
  await new Promise<void>((r) => upstream.close(() => r()));
}

let directory: DevDirectory;
let broker: Broker;

beforeAll(async () => {
  await startUpstream();
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/base`;
  directory = await startDirectory();
  process.env.ATB_TEST_PROBE_PASSWORD = 'stand-in-pass';
  broker = await startBroker(directory, {
    configure: (c) => {
      c.server = { ops: { upstream_probe: { interval: '100ms', timeout: '300ms' } } };
      c.upstreams.prod = { audience: PROD_AUDIENCE, url: upstreamUrl, credentials: { mode: 'service-account', username: 'proxy', password: '${ATB_TEST_PROBE_PASSWORD}' } };
      c.upstreams.staging = { audience: STAGING_AUDIENCE }; // no url: not proxied, not probed
    },
  });
  broker.services.upstreamProbes.start();
});
afterAll(async () => {
  await broker.close();
  await directory.close();
  if (upstream.listening) await stopUpstream();
});

interface UpstreamState {
  status: 'up' | 'down' | 'unknown';
  checked_at: string | null;
  error: string | null;
}

async function readyz(): Promise<{ code: number; body: { status: string; upstreams: Record<string, UpstreamState> } }> {
  const res = await fetch(`${broker.opsUrl}/readyz`);
  return { code: res.status, body: (await res.json()) as { status: string; upstreams: Record<string, UpstreamState> } };
}

async function upMetric(): Promise<string | undefined> {
  const text = await (await fetch(`${broker.opsUrl}/metrics`)).text();
  return /^atb_upstream_up\{deployment="prod"\} (\d)$/m.exec(text)?.[1];
}

async function until(state: UpstreamState['status'], error?: string): Promise<UpstreamState> {
  for (let i = 0; i < 100; i++) {
    const prod = (await readyz()).body.upstreams?.prod;
    if (prod?.status === state && (error === undefined || prod.error === error)) return prod;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`prod never became ${state}`);
}

it('readyz-says-nothing-about-airflow: a reachable deployment is up in /readyz and atb_upstream_up', async () => {
  const prod = await until('up');
  expect(prod.error).toBeNull();
  expect(Date.parse(prod.checked_at!)).not.toBeNaN();
  expect(await upMetric()).toBe('1');
  const { body } = await readyz();
  expect(Object.keys(body.upstreams)).toEqual(['prod']);
  // The public health endpoint under the configured base path, without any credentials.
  expect(probes.at(-1)).toEqual({ url: '/base/api/v2/monitor/health', authorization: undefined });
});

it('a stopped deployment turns down, without making the broker unready', async () => {
  await until('up');
  await stopUpstream();
  const prod = await until('down');
  expect(prod.error).toBe('unreachable');
  expect(await upMetric()).toBe('0');
  const { code, body } = await readyz();
  expect(code).toBe(200);
  expect(body.status).toBe('ready');
  // Restarted on the same port: up again on the next probe.
  await startUpstream(Number(new URL(upstreamUrl).port));
  await until('up');
  expect(await upMetric()).toBe('1');
});

it('a hanging or failing deployment is down (timeout, HTTP status)', async () => {
  mode = 'hang';
  await until('down', 'timeout');
  mode = 'error';
  await until('down', 'status 500');
  expect(await upMetric()).toBe('0');
  mode = 'healthy';
  await until('up');
});

it('probes on a timer, not per /readyz request', async () => {
  await until('up');
  const before = probes.length;
  await Promise.all(Array.from({ length: 20 }, () => readyz()));
  expect(probes.length - before).toBeLessThanOrEqual(2); // at most the timer's own probes in that time
});
