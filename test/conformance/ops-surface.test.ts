import type { DevDirectory } from '../../scripts/dev-directory.js';
import { startBroker, startDirectory, type Broker } from '../helpers/broker-harness.js';

/**
 * What a caller of the public listener can learn about the instance: that it is alive and whether it is ready,
 * nothing more. Metrics and the readiness details are served by the ops listener (`server.ops`, loopback).
 */

let directory: DevDirectory;
let broker: Broker;
beforeAll(async () => {
  directory = await startDirectory();
  broker = await startBroker(directory);
});
afterAll(async () => {
  await broker.close();
  await directory.close();
});

async function readyDetails(): Promise<Record<string, unknown>> {
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${broker.opsUrl}/readyz`);
    const body = (await res.json()) as Record<string, unknown> & { functions?: { issuance?: string } };
    // Ready at once (the proxy needs no directory); the first /readyz starts directory discovery for issuance.
    if (res.status === 200 && body.functions?.issuance === 'ready') return body;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the ops listener never became ready');
}

it('metrics-on-the-main-listener: /metrics is not served on the main listener, only on the ops listener', async () => {
  const main = await fetch(`${broker.url}/metrics`);
  expect(main.status).toBe(404);
  expect(await main.text()).not.toContain('atb_');
  const ops = await fetch(`${broker.opsUrl}/metrics`);
  expect(ops.status).toBe(200);
  expect(ops.headers.get('content-type')).toMatch(/^text\/plain/);
  expect(await ops.text()).toMatch(/^# TYPE atb_token_requests_total counter$/m);
});

it('readiness-details-on-the-main-listener: the main /readyz says ready or not, and nothing else', async () => {
  const details = await readyDetails();
  expect(details).toMatchObject({ status: 'ready', directories: { dev: 'ready' }, policy: { hash: expect.stringMatching(/^[0-9a-f]{64}$/) } });
  const main = await fetch(`${broker.url}/readyz`);
  expect(main.status).toBe(200);
  expect(main.headers.get('cache-control')).toBe('no-store');
  const text = await main.text();
  expect(JSON.parse(text)).toEqual({ status: 'ready' });
  for (const detail of ['dev', (details.policy as { hash: string }).hash, String(details.signing_key)]) expect(text).not.toContain(detail);
});

it('health on both listeners: /healthz stays cheap and answers on the main port for load balancers', async () => {
  for (const url of [broker.url, broker.opsUrl]) {
    const res = await fetch(`${url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  }
});

it('ops-listener-serves-only-probes: the broker, admin and proxy routes are not on the ops listener', async () => {
  for (const path of ['/oauth2/jwks', '/.well-known/oauth-authorization-server', '/admin/policy', '/airflow/prod/api/v2/dags']) {
    const res = await fetch(`${broker.opsUrl}${path}`);
    expect(res.status).toBe(404);
  }
});
