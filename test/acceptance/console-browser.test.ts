import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Frame, Page } from 'playwright-core';
import { FREE_PORTS, startDemoStack, type DemoStack } from '../../scripts/demo-stack.js';
import { basic, type Broker } from '../helpers/broker-harness.js';
import { startChromium, type HeadlessChromium } from '../helpers/chromium.js';
import { startLoginBroker } from '../helpers/login-broker.js';
import { selfSignedCertificate } from '../helpers/self-signed-cert.js';

/**
 * The console in a real headless Chromium, on the demo's stack (dev directory with its people, Airflow 3.3.2 with a
 * scheduler and a DAG processor, the broker with examples/config.yaml and `login`): alice logs in at the directory,
 * sees only `etl_*`, triggers etl_daily with a conf and follows the run to its end, reads its log, switches
 * `etl_target`; a refused action shows its reason; logout ends the session; a page on another origin frames the
 * console only when it is the configured one. Screenshots go to test-artifacts/ (git-ignored).
 */

const timeout = 300_000;
const ARTIFACTS = 'test-artifacts';
let stack: DemoStack;
let chromium: HeadlessChromium;
let allowedEmbedder: Server;
let otherEmbedder: Server;
let consoleUrl: string;

/** A page on its own loopback origin that frames `src` (the embedding planning tool). */
async function embedder(): Promise<Server> {
  const server = createServer((req, res) => {
    const src = new URL(req.url ?? '/', 'http://x').searchParams.get('src') ?? '';
    // It frames only a broker of this test: the demo's on 127.0.0.1, or the one on https://localhost.
    if (!/^(http:\/\/127\.0\.0\.1|https:\/\/localhost):\d+\//.test(src)) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(`<!doctype html><html><head><title>Planning</title></head><body><h1>Planning tool</h1><iframe id="atb" title="Airflow console" src="${src.replace(/"/g, '&quot;')}" width="1300" height="680"></iframe></body></html>`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}
const originOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  process.env.AIRFLOW_PROXY_PASSWORD = 'proxy-pass';
  [allowedEmbedder, otherEmbedder, chromium] = await Promise.all([embedder(), embedder(), startChromium()]);
  stack = await startDemoStack({
    ports: FREE_PORTS,
    configure: (c) => {
      Object.assign(c, { logging: { level: 'silent' }, audit: { destination: './audit.log' } });
      c.upstreams.local.console = { frame_ancestors: [originOf(allowedEmbedder)] };
    },
  });
  consoleUrl = `${stack.issuer}/console/local`;
  // The demo seeds the fallback switch of the error-recovery case.
  expect((await proxied('GET', '/variables/etl_target')).body).toMatchObject({ key: 'etl_target', value: 'primary' });
}, timeout);

afterAll(async () => {
  await chromium?.close();
  for (const server of [allowedEmbedder, otherEmbedder]) server?.close();
  await stack?.stop();
}, timeout);

/** A call through the proxy as demo-etl (service account, role etl-operator): what Airflow holds, read back. */
async function proxied(method: string, path: string, body?: unknown) {
  const token = await fetch(`${stack.issuer}/oauth2/token`, {
    method: 'POST',
    headers: { authorization: basic('demo-etl', 'demo-etl-secret'), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  const { access_token } = (await token.json()) as { access_token: string };
  const res = await fetch(`${stack.issuer}/airflow/local/api/v2${path}`, {
    method,
    headers: { authorization: `Bearer ${access_token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined };
}

const shot = (page: Page, name: string) => page.screenshot({ path: `${ARTIFACTS}/console-${name}.png`, fullPage: true });

/** The dev directory's login form (scripts/dev-directory.ts), as a person fills it. */
async function loginAtDirectory(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel('User name').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

let page: Page;
/** What Chromium reported on alice's page (a CSP violation of the console's own code would show here). */
let pageConsole: string[];
/** The run alice triggers from the console. */
let runId: string;

describe('alice in the console of the demo deployment', () => {
  beforeAll(async () => {
    ({ page, console: pageConsole } = await chromium.newPage());
    await page.setViewportSize({ width: 1366, height: 768 });
  });

  it(
    'not logged in: a "Log in" link to the login, coming back to this console',
    async () => {
      await page.goto(consoleUrl);
      const link = page.getByRole('link', { name: 'Log in' });
      await link.waitFor();
      expect(await link.getAttribute('href')).toBe('/login?return_to=%2Fconsole%2Flocal');
      await shot(page, '01-not-logged-in');
    },
    timeout,
  );

  it(
    'alice logs in at the dev directory and sees only the etl_* DAGs and etl_* variables',
    async () => {
      await page.getByRole('link', { name: 'Log in' }).click();
      await page.waitForURL((url) => url.origin === new URL(stack.directory.issuer).origin);
      await loginAtDirectory(page, 'alice', 'alice-password');
      await page.waitForURL(consoleUrl);
      await page.locator('button.dag').first().waitFor();
      const dags = await page.locator('button.dag').allTextContents();
      expect(dags).toEqual(['etl_daily', 'etl_hourly']);
      await page.locator('form.variable[data-key="etl_target"]').waitFor();
      const keys = await page.locator('form.variable').evaluateAll((forms) => forms.map((f) => f.getAttribute('data-key')));
      expect(keys.length).toBeGreaterThan(0);
      expect(keys.every((k) => k!.startsWith('etl_'))).toBe(true);
      await shot(page, '02-logged-in');
    },
    timeout,
  );

  it(
    '/console lists the deployments alice has a role for, each linking to its console',
    async () => {
      await page.goto(`${stack.issuer}/console`);
      const links = page.getByRole('list').getByRole('link');
      await links.first().waitFor();
      expect(await links.allTextContents()).toEqual(['local']);
      await links.first().click();
      await page.waitForURL(consoleUrl);
      await page.locator('button.dag').first().waitFor();
    },
    timeout,
  );

  it(
    'by keyboard alone: a DAG opens with Enter, focus moves to its heading; a conf that is not a JSON object is caught before anything is sent',
    async () => {
      await page.getByRole('button', { name: 'etl_daily' }).focus();
      await page.keyboard.press('Enter');
      await page.locator('h2#dag-title:focus', { hasText: 'etl_daily' }).waitFor();
      const conf = page.getByLabel('Run configuration (JSON)');
      await conf.fill('["not", "an object"]');
      await page.getByRole('button', { name: 'Trigger run' }).click();
      await page.getByRole('alert').filter({ hasText: 'must be a JSON object' }).waitFor();
      expect(await conf.getAttribute('aria-invalid')).toBe('true');
    },
    timeout,
  );

  it(
    'triggers etl_daily with a conf and follows the run until it has succeeded',
    async () => {
      await page.getByLabel('Run configuration (JSON)').fill('{"source": "console"}');
      await page.getByRole('button', { name: 'Trigger run' }).click();
      const created = page.locator('.trigger-result [role="status"]').filter({ hasText: /^Run \S+ created/ });
      await created.waitFor();
      runId = /^Run (\S+) created/.exec((await created.textContent())!)![1]!;
      // The page polls the run (no reload): its state cell reaches a final state by itself.
      const state = page.locator(`tr[data-run-id="${runId}"] td[data-state]`);
      await page.locator(`tr[data-run-id="${runId}"] td:is([data-state="success"], [data-state="failed"])`).waitFor({ timeout: 180_000 });
      expect(await state.getAttribute('data-state')).toBe('success');
      // What Airflow holds: the run with the conf the person gave.
      const run = await proxied('GET', `/dags/etl_daily/dagRuns/${encodeURIComponent(runId)}`);
      expect(run.body).toMatchObject({ state: 'success', conf: { source: 'console' } });
      await page.locator('tr[data-task-id="extract"] td[data-state="success"]').waitFor();
      await shot(page, '03-run-succeeded');
    },
    timeout,
  );

  it(
    'reads the log of the run\'s task',
    async () => {
      await page.getByRole('button', { name: 'Show the log of extract' }).click();
      const log = page.getByLabel('Log of extract', { exact: true });
      await log.waitFor();
      expect(await log.textContent()).toContain(`etl_daily extract: run ${runId} extracted 3 rows`);
      await shot(page, '04-task-log');
    },
    timeout,
  );

  it(
    'switches etl_target to the fallback system, and Airflow holds the new value',
    async () => {
      const form = page.locator('form.variable[data-key="etl_target"]');
      await form.getByRole('textbox', { name: 'etl_target' }).fill('fallback');
      await form.getByRole('button', { name: 'Save etl_target' }).click();
      await form.getByRole('status').filter({ hasText: 'Saved: etl_target is now "fallback".' }).waitFor();
      const stored = await proxied('GET', '/variables/etl_target');
      expect(stored.body).toMatchObject({ key: 'etl_target', value: 'fallback' });
      await shot(page, '05-variable-saved');
    },
    timeout,
  );

  it(
    'every field of the page has a label and every button a name (the whole console open: DAG, run, tasks, log, variables)',
    async () => {
      type Labelled = { labels?: { length: number } | null; getAttribute(name: string): string | null; textContent: string | null };
      const unlabelled = await page.locator('input:not([type="hidden"]), textarea, select').evaluateAll((fields) => fields.filter((f) => ((f as unknown as Labelled).labels?.length ?? 0) === 0).length);
      const unnamed = await page.locator('button').evaluateAll((buttons) => buttons.filter((b) => !(b as unknown as Labelled).getAttribute('aria-label') && !(b as unknown as Labelled).textContent?.trim()).length);
      expect(await page.locator('input:not([type="hidden"]), textarea').count()).toBeGreaterThanOrEqual(2);
      expect({ unlabelled, unnamed }).toEqual({ unlabelled: 0, unnamed: 0 });
    },
    timeout,
  );

  it(
    'a refused action (pausing etl_daily: alice\'s role lacks pause) shows the proxy\'s reason and description',
    async () => {
      await page.getByRole('button', { name: 'Pause', exact: true }).click();
      const problem = page.locator('.pause .problem[data-status="403"]');
      await problem.waitFor();
      expect(await problem.getAttribute('data-reason')).toBe('no-matching-grant');
      const text = await problem.textContent();
      expect(text).toContain('Pausing was refused');
      expect(text).toContain('the token does not allow pause on dags etl_daily (operation patch_dag)');
      // Nothing changed at Airflow.
      expect((await proxied('GET', '/dags/etl_daily')).body).toMatchObject({ is_paused: false });
      await shot(page, '06-refused');
    },
    timeout,
  );

  it(
    'logout ends the session (and the directory\'s): the page shows the login again and the old cookie opens nothing',
    async () => {
      const before = (await page.context().cookies(stack.issuer)).map((c) => `${c.name}=${c.value}`).join('; ');
      expect(before).not.toBe('');
      await page.getByRole('button', { name: 'Log out' }).click();
      // RP-initiated logout: the directory asks, then sends the browser back to the broker's logged-out page.
      await page.waitForURL((url) => url.origin === new URL(stack.directory.issuer).origin);
      await page.getByRole('button', { name: /sign me out/i }).click();
      await page.waitForURL(`${stack.issuer}/login/logged-out`);
      await page.goto(consoleUrl);
      await page.getByRole('link', { name: 'Log in' }).waitFor();
      const replay = await fetch(`${stack.issuer}/session`, { headers: { cookie: before } });
      expect(replay.status).toBe(401);
      const proxiedWithOldCookie = await fetch(`${stack.issuer}/airflow/local/api/v2/dags`, { headers: { cookie: before } });
      expect(proxiedWithOldCookie.status).toBe(401);
      await shot(page, '07-logged-out');
    },
    timeout,
  );

  it("the console's own code ran under its CSP (default-src 'self', no inline script) without a single violation", () => {
    expect(pageConsole.filter((m) => /Content Security Policy|Refused to/i.test(m))).toEqual([]);
  });
});

/** A new page of `browser` on the `embedding` page, which frames `src`. */
async function frameIn(browser: HeadlessChromium, embedding: Server, src: string): Promise<{ page: Page; frame: Frame; console: string[] }> {
  const { page, console } = await browser.newPage();
  await page.setViewportSize({ width: 1366, height: 768 });
  await page.goto(`${originOf(embedding)}/?src=${encodeURIComponent(src)}`);
  const frame = (await (await page.waitForSelector('iframe#atb')).contentFrame())!;
  await frame.waitForLoadState();
  return { page, frame, console };
}

/** The framed console's login: its button opens the popup, the person logs in at the directory there (the popup then closes itself). */
async function popupLogin(page: Page, frame: Frame, username: string, password: string): Promise<Page> {
  const loginButton = frame.getByRole('button', { name: 'Log in (opens a new window)' });
  await loginButton.waitFor();
  const [popup] = await Promise.all([page.waitForEvent('popup'), loginButton.click()]);
  await popup.waitForURL((url) => url.origin === new URL(stack.directory.issuer).origin);
  await loginAtDirectory(popup, username, password);
  return popup;
}

/** {@link popupLogin}, then the frame notices the session by itself and reloads into the console. */
async function loginThroughPopup(page: Page, frame: Frame, username: string, password: string): Promise<void> {
  await popupLogin(page, frame, username, password);
  await frame.locator('button.dag').first().waitFor({ timeout: 30_000 });
}

describe('embedding the console in another page', () => {
  const framedConsole = (embedding: Server) => frameIn(chromium, embedding, consoleUrl);

  it(
    'a page on an origin the configuration does not list cannot frame the console: Chromium refuses to load it',
    async () => {
      const { page, frame, console } = await framedConsole(otherEmbedder);
      // Give a loaded console time to render anything at all before concluding it did not.
      await page.waitForTimeout(1500);
      expect(await frame.locator('#app').count()).toBe(0);
      expect(frame.url()).not.toBe(consoleUrl);
      expect(console.join('\n')).toMatch(/frame-ancestors/);
      await shot(page, '08-framing-refused');
      await page.close();
    },
    timeout,
  );

  it(
    'the configured origin frames it; the login opens in its own window, the frame then shows alice\'s console, and logs out',
    async () => {
      const { page, frame } = await framedConsole(allowedEmbedder);
      await loginThroughPopup(page, frame, 'alice', 'alice-password');
      expect(await frame.locator('button.dag').allTextContents()).toEqual(['etl_daily', 'etl_hourly']);
      await shot(page, '09-framed-console');
      // Logging out inside the frame ends the session by a call; the frame shows the login button again.
      const cookie = (await page.context().cookies(stack.issuer)).map((c) => `${c.name}=${c.value}`).join('; ');
      expect((await fetch(`${stack.issuer}/session`, { headers: { cookie } })).status).toBe(200);
      await frame.getByRole('button', { name: 'Log out' }).click();
      await frame.getByRole('button', { name: 'Log in (opens a new window)' }).waitFor();
      expect((await fetch(`${stack.issuer}/session`, { headers: { cookie } })).status).toBe(401);
      await page.close();
    },
    timeout,
  );
});

describe('a person without a role', () => {
  it(
    'bob (no group) logs in and is refused, with the reason, wherever the console calls the proxy',
    async () => {
      // A fresh profile: nobody is logged in at the broker or the directory.
      const own = await startChromium();
      try {
        const { page } = await own.newPage();
        await page.setViewportSize({ width: 1366, height: 768 });
        await page.goto(consoleUrl);
        await page.getByRole('link', { name: 'Log in' }).click();
        await loginAtDirectory(page, 'bob', 'bob-password');
        await page.waitForURL(consoleUrl);
        await page.getByRole('status').filter({ hasText: 'You have no role for local' }).waitFor();
        const refusal = page.locator('.dags .problem[data-status="403"]');
        await refusal.waitFor();
        expect(await refusal.getAttribute('data-reason')).toBe('no-role-on-deployment');
        expect(await refusal.textContent()).toContain('Listing the DAGs was refused');
        expect(await page.locator('button.dag').count()).toBe(0);
        await shot(page, '10-no-role');
      } finally {
        await own.close();
      }
    },
    timeout,
  );
});

/**
 * The console framed by a page of ANOTHER SITE: a second broker (the same directory and Airflow) served over TLS
 * on https://localhost with a self-signed certificate, framed by the planning page on http://127.0.0.1 (localhost and
 * 127.0.0.1 are different sites). Inside that frame the browser sends only `SameSite=None` cookies, so the console
 * works only through the embed cookie `__Host-atb_embed_session` (src/login/session-cookies.ts).
 */
describe('embedded by a page of another site (the broker on https://localhost)', () => {
  let tlsBroker: Broker;
  let tlsChromium: HeadlessChromium;
  let tlsConsoleUrl: string;
  /** The frame of alice's logged-in embedded console (the first test logs her in). */
  let framed: { page: Page; frame: Frame } | undefined;

  beforeAll(async () => {
    const airflowUrl = stack.airflow!.url;
    const upstream = (name: string, issuer: string) => ({
      audience: `${issuer}/airflow/${name}`,
      url: airflowUrl,
      credentials: { mode: 'service-account' as const, username: 'proxy', password: '${AIRFLOW_PROXY_PASSWORD}' },
      console: { frame_ancestors: [originOf(allowedEmbedder)] },
    });
    tlsBroker = await startLoginBroker(stack.directory, {
      https: selfSignedCertificate(),
      configure: (c) => {
        // `other`: a second deployment (the same Airflow) the embed session of `local` must not reach.
        c.upstreams = { local: upstream('local', c.issuer), other: upstream('other', c.issuer) };
        c.default_upstream = 'local';
      },
    });
    tlsConsoleUrl = `${tlsBroker.url}/console/local`;
    // This Chromium blocks third-party cookies in a fresh profile: the person (or the company's browser policy)
    // allows them for the broker's site only, as docs/people.md "Embedding" asks.
    tlsChromium = await startChromium({ ignoreHTTPSErrors: true, allowThirdPartyCookiesFor: ['[*.]localhost'] });
  }, timeout);

  afterAll(async () => {
    await tlsChromium?.close();
    await tlsBroker?.close();
  }, timeout);

  const framedConsole = (embedding: Server) => frameIn(tlsChromium, embedding, tlsConsoleUrl);

  /** A call made by the framed console's own script (same origin as the frame, cookies as the browser sends them there). */
  const fromFrame = (frame: Frame, path: string) =>
    frame.evaluate(async (p) => {
      const res = await fetch(p, { credentials: 'same-origin' });
      return { status: res.status, body: (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined };
    }, path);

  it(
    'embedded-cross-site-console-works: alice logs in through the popup, the frame shows only etl_* and a trigger from it reaches Airflow',
    async () => {
      const { page, frame } = await framedConsole(allowedEmbedder);
      // The frame (third-party: localhost inside 127.0.0.1) sees the session only through the SameSite=None cookie.
      await loginThroughPopup(page, frame, 'alice', 'alice-password');
      expect(await frame.locator('button.dag').allTextContents()).toEqual(['etl_daily', 'etl_hourly']);
      await frame.getByRole('button', { name: 'etl_daily' }).click();
      await frame.getByLabel('Run configuration (JSON)').fill('{"source": "embedded-cross-site"}');
      await frame.getByRole('button', { name: 'Trigger run' }).click();
      const created = frame.locator('.trigger-result [role="status"]').filter({ hasText: /^Run \S+ created/ });
      await created.waitFor();
      const embeddedRun = /^Run (\S+) created/.exec((await created.textContent())!)![1]!;
      // What Airflow holds (read through the demo broker, as demo-etl): the run with the conf given in the frame.
      const run = await proxied('GET', `/dags/etl_daily/dagRuns/${encodeURIComponent(embeddedRun)}`);
      expect(run.status).toBe(200);
      expect(run.body).toMatchObject({ conf: { source: 'embedded-cross-site' } });
      await shot(page, '11-cross-site-framed-console');
      framed = { page, frame };
    },
    timeout,
  );

  it(
    'the session cookie as Chromium stored it: __Host-atb_embed_session, SameSite=None, Secure, HttpOnly (and no Lax session cookie)',
    async () => {
      const cookies = await tlsChromium.context.cookies(tlsBroker.url);
      const sessions = cookies.filter((c) => /atb_(embed_)?session/.test(c.name));
      expect(sessions.map(({ name, sameSite, secure, httpOnly, path }) => ({ name, sameSite, secure, httpOnly, path }))).toEqual([
        { name: '__Host-atb_embed_session', sameSite: 'None', secure: true, httpOnly: true, path: '/' },
      ]);
    },
    timeout,
  );

  it(
    'embed-session-serves-only-its-deployment: from the frame, the embed session opens local but is refused on other (401 session-other-deployment)',
    async () => {
      const { frame } = framed!;
      expect((await fromFrame(frame, '/airflow/local/api/v2/dags')).status).toBe(200);
      const other = await fromFrame(frame, '/airflow/other/api/v2/dags');
      expect(other).toMatchObject({ status: 401, body: { error: 'invalid_token', reason: 'session-other-deployment' } });
      // GET /session says so too: the session reaches only its own deployment.
      expect((await fromFrame(frame, '/session')).body).toMatchObject({ embedded: 'local', deployments: ['local'] });
    },
    timeout,
  );

  it(
    'without the site exception this Chromium blocks the embed cookie in the frame: the popup login stores it, the frame stays logged out',
    async () => {
      // Pins what docs/people.md "Embedding" tells people: a fresh profile of this Chromium blocks third-party cookies.
      const strict = await startChromium({ ignoreHTTPSErrors: true });
      try {
        const { page, frame } = await frameIn(strict, allowedEmbedder, tlsConsoleUrl);
        const popup = await popupLogin(page, frame, 'alice', 'alice-password');
        await popup.waitForEvent('close');
        expect((await strict.context.cookies(tlsBroker.url)).map((c) => c.name)).toContain('__Host-atb_embed_session');
        expect(await fromFrame(frame, '/session')).toMatchObject({ status: 401, body: { error: 'login_required' } });
      } finally {
        await strict.close();
      }
    },
    timeout,
  );

  it(
    'not-allowed-cross-site-origin-refused: a page on another origin gets no console, even with alice logged in',
    async () => {
      const { page, frame, console } = await framedConsole(otherEmbedder);
      await page.waitForTimeout(1500);
      expect(await frame.locator('#app').count()).toBe(0);
      expect(frame.url()).not.toBe(tlsConsoleUrl);
      expect(console.join('\n')).toMatch(/frame-ancestors/);
      await shot(page, '12-cross-site-framing-refused');
      await page.close();
    },
    timeout,
  );
});
