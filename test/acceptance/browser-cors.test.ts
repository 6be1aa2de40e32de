import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEV_DIRECTORY_AUDIENCE, type DevDirectory } from '../../scripts/dev-directory.js';
import { startAirflow, type AirflowServer } from '../helpers/airflow-server.js';
import { PROD_AUDIENCE, startBroker, startDirectory, serviceAccountUpstream, type Broker } from '../helpers/broker-harness.js';
import { startChromium, type HeadlessChromium } from '../helpers/chromium.js';

/**
 * A browser app in a real headless Chromium (Debian's `chromium`, driven by playwright-core) against the broker in
 * front of a real Airflow 3: the page, served on another loopback origin than the broker, exchanges the user's ID
 * token for a broker token and lists DAGs through the proxy. The same page on an origin the configuration does not
 * list is stopped by the browser itself: the broker answers, Chromium keeps the page from reading it.
 */

const timeout = 240_000;
let airflow: AirflowServer;
let directory: DevDirectory;
let broker: Broker;
let chromium: HeadlessChromium;
let allowedApp: Server;
let otherApp: Server;

const APP_HTML = readFileSync('test/fixtures/browser-app/index.html');

async function serveApp(): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/favicon.ico') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(APP_HTML);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}
const originOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

beforeAll(async () => {
  [airflow, directory, allowedApp, otherApp, chromium] = await Promise.all([startAirflow(), startDirectory(), serveApp(), serveApp(), startChromium()]);
  broker = await startBroker(directory, {
    configure: (c) => {
      c.upstreams.prod = serviceAccountUpstream(airflow.url, {
        cors: { allowed_origins: [originOf(allowedApp)] },
      });
      c.token_endpoint_cors = { allowed_origins: [originOf(allowedApp)] };
    },
  });
}, timeout);

afterAll(async () => {
  await chromium?.close();
  for (const server of [allowedApp, otherApp]) server?.close();
  await broker?.close();
  await directory?.close();
  await airflow?.stop();
}, timeout);

/** The user's ID token as the directory hands it to the app after login (the app's client id is its `aud`). */
const idToken = () => directory.signAsDirectory({ sub: 'alice', aud: DEV_DIRECTORY_AUDIENCE, azp: 'airflow-browser-app', groups: ['airflow-etl'] });

/** Opens the app on `app`'s origin with `fragment` and waits for its outcome. */
async function runApp(app: Server, fragment: Record<string, string>) {
  const { page, console } = await chromium.newPage();
  try {
    const hash = new URLSearchParams({ broker: broker.url, deployment: 'prod', resource: PROD_AUDIENCE, ...fragment });
    await page.goto(`${originOf(app)}/#${hash}`);
    await page.waitForFunction(() => (globalThis as unknown as { result?: unknown }).result !== undefined, undefined, { timeout: 30_000 });
    const result = await page.evaluate(() => (globalThis as unknown as { result: Record<string, unknown> }).result);
    return { result, console };
  } finally {
    await page.close();
  }
}

describe('a browser app on another origin', () => {
  it(
    'gets a token by token exchange, lists DAGs and triggers a run through the proxy, reading refusals too',
    async () => {
      const { result } = await runApp(allowedApp, { id_token: await idToken() });
      expect(result).toEqual({
        token: { status: 200, scope: 'etl-operator' },
        dags: { status: 200, ids: ['etl_daily', 'etl_hourly'], total: 2, requestId: expect.stringMatching(/.+/) },
        // A JSON POST: preflighted for `content-type` too.
        triggered: { status: 200, runId: expect.stringMatching(/^manual__/), conf: { from: 'browser' } },
        refused: { status: 403, error: 'insufficient_scope' },
        anonymous: { status: 401, error: 'invalid_token', challenge: expect.stringMatching(/^Bearer realm="airflow-token-broker"/) },
      });
      // The list went through the proxy's decision (Chromium sent the preflight first; it is not an audited call).
      const decided = broker.audit.decisions.map((d) => [d.method, d.path, d.decision]);
      expect(decided).toContainEqual(['GET', '/dags', 'allow']);
      expect(decided).toContainEqual(['POST', '/dags/etl_daily/dagRuns', 'allow']);
      expect(broker.audit.decisions.some((d) => d.method === 'OPTIONS')).toBe(false);
    },
    timeout,
  );

  it(
    'on an origin that is not allowed, is stopped by the browser at the token endpoint',
    async () => {
      const issued = broker.audit.records.filter((t) => t.outcome === 'issued').length;
      const { result, console } = await runApp(otherApp, { id_token: await idToken() });
      expect(result).toEqual({ failed: 'TypeError', message: 'Failed to fetch' });
      expect(console.join('\n')).toMatch(/blocked by CORS policy: No 'Access-Control-Allow-Origin' header is present/);
      // The broker did answer (a token was issued): what failed is the page reading it.
      expect(broker.audit.records.filter((t) => t.outcome === 'issued').length).toBe(issued + 1);
    },
    timeout,
  );

  it(
    'on an origin that is not allowed, cannot call the proxy even with a valid token',
    async () => {
      const res = await fetch(`${broker.url}/oauth2/token`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
          subject_token: await idToken(),
          subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
        }),
      });
      const accessToken = ((await res.json()) as { access_token: string }).access_token;
      const { result, console } = await runApp(otherApp, { access_token: accessToken });
      expect(result).toEqual({ failed: 'TypeError', message: 'Failed to fetch' });
      // The preflight (the call sends Authorization) was refused: nothing reached Airflow.
      expect(console.join('\n')).toMatch(/blocked by CORS policy: Response to preflight request doesn't pass access control check/);
    },
    timeout,
  );
});
