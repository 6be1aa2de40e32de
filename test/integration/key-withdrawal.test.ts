import { existsSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { KeyStore } from '../../src/keys/key-store.js';
import { basic, PROD_AUDIENCE, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';

/**
 * Item 6 of issue 7: withdrawing a key (deleting its file, the answer to a leaked key) stops every token it
 * signed within seconds, through the real proxy, also tokens the proxy has already verified and cached.
 */

const HOUR = 3_600_000;
let directory: DevDirectory;
let broker: Broker;

beforeAll(async () => {
  directory = await startDirectory({
    accounts: [
      { clientId: 'demo-etl', secret: 'demo-etl-secret', groups: ['airflow-etl'] },
      { clientId: 'svc-secadmin', secret: 'svc-secadmin-secret', groups: [] },
    ],
  });
  process.env.ATB_TEST_UNUSED_PASSWORD = 'x';
  broker = await startBroker(directory, {
    policyFile: resolve('test/fixtures/policy/with-admin.yaml'),
    configure: (c) => {
      // Denied calls never reach this Airflow: a 403 proves the token was accepted, a 401 that it was not.
      c.upstreams.prod = { audience: PROD_AUDIENCE, url: 'http://127.0.0.1:9', credentials: { mode: 'service-account', username: 'proxy', password: '${ATB_TEST_UNUSED_PASSWORD}' } };
    },
  });
});
afterAll(async () => {
  await broker.close();
  await directory.close();
});

const keysDir = () => join(broker.dir, 'keys');

async function issue(client = 'demo-etl', secret = 'demo-etl-secret', resource?: string): Promise<string> {
  const res = await tokenRequest(broker, { grant_type: 'client_credentials', ...(resource ? { resource } : {}) }, { authorization: basic(client, secret) });
  expect(res.status).toBe(200);
  return res.body.access_token as string;
}

const proxyStatus = async (token: string) =>
  (await fetch(`${broker.url}/airflow/prod/api/v2/dags/payroll_monthly`, { headers: { authorization: `Bearer ${token}` } })).status;
const adminStatus = async (token: string) => (await fetch(`${broker.url}/admin/policy`, { headers: { authorization: `Bearer ${token}` } })).status;
const introspect = async (token: string) =>
  ((await (
    await fetch(`${broker.url}/oauth2/introspect`, {
      method: 'POST',
      headers: { authorization: basic('demo-etl', 'demo-etl-secret'), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }),
    })
  ).json()) as { active: boolean });

/** Polls until `probe` holds; returns the milliseconds it took, or fails after `ms`. */
async function within(ms: number, probe: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (await probe()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`not reached within ${ms} ms`);
}

/** `keys rotate --prepublish 0` from another process, then the old key's file deleted. */
async function rotateAndWithdraw(oldKid: string): Promise<string> {
  const cli = new KeyStore({ dir: keysDir(), algorithm: 'ES256', maxTokenTtlMs: HOUR });
  await cli.load();
  const next = await cli.rotate(0);
  rmSync(join(keysDir(), `${oldKid}.json`));
  return next.kid;
}

describe('a withdrawn key stops its tokens within seconds', () => {
  it('removed-key-cached-token: a token the proxy already verified and cached is refused after its key file is deleted', async () => {
    const token = await issue();
    const admin = await issue('svc-secadmin', 'svc-secadmin-secret', `${broker.url}/admin`);
    const uncached = await issue();
    expect(await proxyStatus(token)).toBe(403); // accepted (authenticated), then denied by the policy
    expect(await adminStatus(admin)).toBe(200);
    expect(await introspect(uncached)).toMatchObject({ active: true });
    const cachedBefore = broker.services.authenticator.cachedTokens;
    expect(cachedBefore).toBeGreaterThanOrEqual(2);

    const next = await rotateAndWithdraw(decodeProtectedHeader(token).kid!);

    // Through the real proxy: the cached token is refused within 3 s (well under the reload interval).
    await within(3_000, async () => (await proxyStatus(token)) === 401);
    expect(await adminStatus(admin)).toBe(401);
    expect((await introspect(uncached)).active).toBe(false);
    await expect(broker.services.authenticator.authenticate(`Bearer ${uncached}`, PROD_AUDIENCE)).rejects.toMatchObject({ reason: 'ERR_KEY_WITHDRAWN' });
    await expect(broker.services.authenticator.authenticate(`Bearer ${token}`, PROD_AUDIENCE)).rejects.toMatchObject({ reason: 'ERR_KEY_WITHDRAWN' });

    // The replacement key signs, and its tokens work.
    const fresh = await issue();
    expect(decodeProtectedHeader(fresh).kid).toBe(next);
    expect(await proxyStatus(fresh)).toBe(403);
  });
});

describe('keys/ vanishing for a while (a remount)', () => {
  it('keys-dir-vanishes: issuance and verification keep working from the last good key set, and /readyz says so', async () => {
    const before = await issue();
    expect(await proxyStatus(before)).toBe(403);
    const away = `${keysDir()}.away`;
    renameSync(keysDir(), away);
    try {
      await broker.services.keys.load();
      expect(existsSync(keysDir())).toBe(false); // a reload never re-creates the directory
      const during = await issue();
      expect(await proxyStatus(before)).toBe(403);
      expect(await proxyStatus(during)).toBe(403);
      expect((await introspect(during)).active).toBe(true);
      const ready = await fetch(`${broker.opsUrl}/readyz`);
      expect(ready.status).toBe(200);
      const body = (await ready.json()) as { keys: { state: string; problems: Array<{ file: string; problem: string }> } };
      expect(body.keys.state).toBe('degraded');
      expect(body.keys.problems[0]!.file).toBe(keysDir());
    } finally {
      renameSync(away, keysDir());
    }
    await broker.services.keys.load();
    const ready = (await (await fetch(`${broker.opsUrl}/readyz`)).json()) as { keys: { state: string } };
    expect(ready.keys.state).toBe('ok');
    expect(await proxyStatus(before)).toBe(403);
  });

  it('keys-dir-emptied: every key file gone at once is an outage, not a withdrawal', async () => {
    const before = await issue();
    const away = `${keysDir()}.files`;
    renameSync(keysDir(), away);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(keysDir(), { mode: 0o700 }); // the mount point, empty
    try {
      await broker.services.keys.load();
      expect(await proxyStatus(before)).toBe(403);
      expect(await proxyStatus(await issue())).toBe(403);
    } finally {
      rmSync(keysDir(), { recursive: true });
      renameSync(away, keysDir());
    }
    await broker.services.keys.load();
  });

  it('no-usable-signing-key: with only a pending key left, issuance is 503 temporarily_unavailable with Retry-After, never 500', async () => {
    const before = await issue();
    const active = decodeProtectedHeader(before).kid!;
    const cli = new KeyStore({ dir: keysDir(), algorithm: 'ES256', maxTokenTtlMs: HOUR });
    await cli.load();
    await cli.rotate(HOUR); // published, signs in an hour
    rmSync(join(keysDir(), `${active}.json`)); // the active key withdrawn
    await broker.services.keys.load();
    const res = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('demo-etl', 'demo-etl-secret') });
    expect(res.status).toBe(503);
    expect(res.body.error).toBe('temporarily_unavailable');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    const ready = await fetch(`${broker.opsUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { keys: { state: string } }).keys.state).toBe('unavailable');
  });
});

describe('a broken key file appearing while running', () => {
  it('broken-key-file-on-reload: the last good key set stays, the file is named in /readyz', async () => {
    // Runs after the tests above left no active key: give the set one again.
    const cli = new KeyStore({ dir: keysDir(), algorithm: 'ES256', maxTokenTtlMs: HOUR });
    await cli.generate();
    await broker.services.keys.load();
    const before = await issue();
    const { writeFileSync } = await import('node:fs');
    const bad = join(keysDir(), 'half-written.json');
    writeFileSync(bad, '{"kid": "x", "alg"', { mode: 0o600 });
    await broker.services.keys.load();
    expect(await proxyStatus(before)).toBe(403);
    expect(await proxyStatus(await issue())).toBe(403);
    const body = (await (await fetch(`${broker.opsUrl}/readyz`)).json()) as { keys: { state: string; problems: Array<{ file: string; problem: string }> } };
    expect(body.keys.state).toBe('degraded');
    expect(body.keys.problems).toEqual([{ file: bad, problem: expect.stringMatching(/not valid JSON/), since: expect.any(String) }]);
    rmSync(bad);
    await broker.services.keys.load();
    expect(((await (await fetch(`${broker.opsUrl}/readyz`)).json()) as { keys: { state: string } }).keys.state).toBe('ok');
  });
});
