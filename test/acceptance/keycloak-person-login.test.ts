import { mkdirSync } from 'node:fs';
import type { Page } from 'playwright-core';
import type { Broker } from '../helpers/broker-harness.js';
import { startChromium, type HeadlessChromium } from '../helpers/chromium.js';
import { KC, KEYCLOAK_START_TIMEOUT_MS, startBrokerOnKeycloak, startKeycloak, type KeycloakServer } from '../helpers/keycloak-server.js';

/**
 * A person logs in to the broker through a real Keycloak's own login page, in a real headless Chromium: carol (group
 * airflow-etl in the realm) gets the role the example policy binds to that group, and a logout at the broker ends
 * her Keycloak session too (RP-initiated logout), so the next login asks for her password again.
 */
const ARTIFACTS = 'test-artifacts/keycloak-person-login';
let kc: KeycloakServer;
let broker: Broker;
let chromium: HeadlessChromium;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  [kc, chromium] = await Promise.all([startKeycloak(), startChromium()]);
  process.env.ATB_TEST_KC_LOGIN_SECRET = KC.console.secret;
  broker = await startBrokerOnKeycloak(kc, {
    configure: (c) => {
      c.login = { directory: 'dev', client_id: KC.console.id, client_secret: '${ATB_TEST_KC_LOGIN_SECRET}', scope: 'openid profile email' };
    },
  });
  await kc.allowBrokerLogin(broker.url);
}, KEYCLOAK_START_TIMEOUT_MS);
afterAll(async () => {
  await broker?.close();
  await chromium?.close();
  await kc?.stop();
});

/** What `GET /session` answers in this browser (its cookies, read by a same-origin fetch from a broker page). */
async function sessionOf(page: Page): Promise<{ status: number; body: Record<string, unknown> }> {
  return page.evaluate(async () => {
    const res = await fetch('/session', { credentials: 'same-origin' });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  });
}

/** Starts a login at the broker and waits for Keycloak's own login form. */
async function toKeycloakForm(page: Page): Promise<void> {
  await page.goto(`${broker.url}/login?return_to=${encodeURIComponent('/session')}`);
  await page.waitForURL((u) => u.href.startsWith(`${kc.issuer}/`));
  await page.locator('#username').waitFor();
}

it('carol logs in at Keycloak\'s login page, gets etl-operator, and a logout ends the broker and the Keycloak session', async () => {
  const { page } = await chromium.newPage();
  await toKeycloakForm(page);
  await page.screenshot({ path: `${ARTIFACTS}/1-keycloak-login-page.png` });
  await page.fill('#username', KC.carol.username);
  await page.fill('#password', KC.carol.password);
  await page.click('#kc-login');
  // Back at the broker, on the same-origin return address given to /login.
  await page.waitForURL(`${broker.url}/session`);

  const session = await sessionOf(page);
  expect(session.status).toBe(200);
  expect(session.body).toMatchObject({ name: 'Carol Example', email: 'carol@example.com', groups: ['airflow-etl'], roles: ['etl-operator'] });
  expect(session.body.deployments).toEqual(expect.arrayContaining(['prod']));
  expect(JSON.stringify(session.body)).not.toMatch(/eyJ/); // no token of any kind reaches the page
  await page.screenshot({ path: `${ARTIFACTS}/2-logged-in.png` });

  // Logout as a page does it: a form POST with the session's CSRF token; the broker sends the browser on to
  // Keycloak's end-session endpoint, which comes back to the broker's logged-out page.
  const endSession: string[] = [];
  page.on('request', (r) => {
    if (r.url().startsWith(`${kc.issuer}/protocol/openid-connect/logout`)) endSession.push(r.url());
  });
  // The page logging out stands in for the console: same origin as the broker, served by the browser here (not
  // the broker) because the broker's default CSP (helmet: `form-action 'self'`, `upgrade-insecure-requests`) stops
  // a form whose answer redirects to the directory, and upgrades the http test broker to https.
  const logoutForm = `${broker.url}/test-only/logout-form`;
  await page.route(logoutForm, (route) =>
    route.fulfill({
      contentType: 'text/html',
      body: `<!DOCTYPE html><form method="post" action="/logout"><input type="hidden" name="csrf_token" value="${session.body.csrf_token as string}"><button>Log out</button></form>`,
    }),
  );
  await page.goto(logoutForm);
  await page.click('button');
  await page.waitForURL(`${broker.url}/login/logged-out`);
  expect(endSession).toHaveLength(1);
  expect(new URL(endSession[0]!).searchParams.get('id_token_hint')).toMatch(/^eyJ/);
  await page.screenshot({ path: `${ARTIFACTS}/3-logged-out.png` });
  expect(await sessionOf(page)).toMatchObject({ status: 401, body: { error: 'login_required' } });

  // Keycloak's own session ended too: a new login shows its password form instead of coming straight back.
  await toKeycloakForm(page);
  await page.screenshot({ path: `${ARTIFACTS}/4-password-asked-again.png` });
  expect(await page.locator('#password').isVisible()).toBe(true);
});
