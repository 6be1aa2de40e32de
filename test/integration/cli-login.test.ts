import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { basic, PROD_AUDIENCE, serviceAccountUpstream, startDirectory, type Broker } from '../helpers/broker-harness.js';
import { startLoginBroker } from '../helpers/login-broker.js';
import { cliLogin } from '../helpers/cli-login.js';
import { runCli } from '../helpers/run-cli.js';

/**
 * `airflow-token-broker login` as a person uses it: the real CLI process listens on loopback, the "browser" (fetch with
 * a cookie jar) logs alice in at the dev directory's own login page and is sent back to the CLI, which caches the token
 * that `token` then prints; the introspection endpoint proves whose it is and its roles; `logout` revokes it.
 */

let directory: DevDirectory;
let broker: Broker;

beforeAll(async () => {
  directory = await startDirectory();
  broker = await startLoginBroker(directory, {
    configure: (c) => {
      c.introspection = { allowed_clients: ['demo-etl'] };
      // Proxied (so the metadata lists it), at an address where nothing listens: no call here reaches an Airflow.
      c.upstreams.prod = serviceAccountUpstream('http://127.0.0.1:9');
    },
  });
});
afterAll(async () => {
  await broker.close();
  await directory.close();
});

function newCache(): Record<string, string> {
  return { XDG_CACHE_HOME: mkdtempSync(join(tmpdir(), 'atb-cli-cache-')) };
}

const cachePath = (env: Record<string, string>) => join(env.XDG_CACHE_HOME!, 'airflow-token-broker', 'tokens.json');

async function introspect(token: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${broker.url}/oauth2/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic('demo-etl', 'demo-etl-secret') },
    body: new URLSearchParams({ token }),
  });
  return (await res.json()) as Record<string, unknown>;
}

describe('airflow-token-broker login', () => {
  it('alice logs in in the browser; token prints her cached token (her roles, for prod); logout revokes it', async () => {
    const env = newCache();
    const result = await cliLogin(broker.url, env, 'alice', 'alice-password');
    expect(result.stderr).not.toContain('error:');
    expect(result.code).toBe(0);
    expect(result.landed).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback\?code=/);
    expect(result.stderr).toContain('Logged in as alice to deployment prod (roles: etl-operator)');
    expect(statSync(cachePath(env)).mode & 0o777).toBe(0o600);

    const printed = await runCli(['token', '--issuer', broker.url, '--insecure-http'], { env });
    expect(printed.code).toBe(0);
    const token = printed.stdout.trim();
    expect(await introspect(token)).toMatchObject({ active: true, sub: 'alice', client_id: 'airflow-token-broker-cli', aud: PROD_AUDIENCE, scope: 'etl-operator' });

    const out = await runCli(['logout', '--issuer', broker.url, '--insecure-http'], { env });
    expect(out.code).toBe(0);
    expect(out.stderr).toContain('logged out of prod (1 token(s) revoked)');
    expect((await introspect(token)).active).toBe(false);
    expect(JSON.parse(readFileSync(cachePath(env), 'utf8')).tokens).toEqual({});

    const after = await runCli(['token', '--issuer', broker.url, '--insecure-http'], { env });
    expect(after.code).toBe(EXIT.loginRequired);
    expect(after.stderr).toContain('airflow-token-broker login');
  });

  it('login-token-expired: token, run and wait say to log in again (exit 7)', async () => {
    const env = newCache();
    expect((await cliLogin(broker.url, env, 'alice', 'alice-password')).code).toBe(0);
    const file = JSON.parse(readFileSync(cachePath(env), 'utf8')) as { tokens: Record<string, { expires_at: number }> };
    for (const entry of Object.values(file.tokens)) entry.expires_at = Date.now() - 1000;
    writeFileSync(cachePath(env), JSON.stringify(file));
    for (const args of [['token'], ['run', 'etl_daily'], ['wait', 'etl_daily', 'r1']]) {
      const res = await runCli([...args, '--issuer', broker.url, '--insecure-http'], { env });
      expect(res.code).toBe(EXIT.loginRequired);
      expect(res.stderr).toMatch(/expired: run `airflow-token-broker login --deployment prod` again/);
    }
  });

  it('login-token-revoked: wait refused by the proxy asks for a new login (exit 7) instead of retrying the same token', async () => {
    const env = newCache();
    expect((await cliLogin(broker.url, env, 'alice', 'alice-password')).code).toBe(0);
    const token = (await runCli(['token', '--issuer', broker.url, '--insecure-http'], { env })).stdout.trim();
    // The CLI client revokes its own token (RFC 7009 §5: a public client names itself), the cache keeps it.
    const revoked = await fetch(`${broker.url}/oauth2/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, client_id: 'airflow-token-broker-cli' }),
    });
    expect(revoked.status).toBe(200);
    const res = await runCli(['wait', 'etl_daily', 'r1', '--issuer', broker.url, '--insecure-http'], { env });
    expect(res.code).toBe(EXIT.loginRequired);
    expect(res.stderr).toMatch(/cannot be renewed without you: run `airflow-token-broker login --deployment prod` again/);
  });

  it('logout-broker-unreachable: the token leaves the cache, and the CLI says it is still valid (exit 5, never a success)', async () => {
    const other = await startLoginBroker(directory, { configure: (c) => (c.upstreams.prod = serviceAccountUpstream('http://127.0.0.1:9')) });
    const env = newCache();
    expect((await cliLogin(other.url, env, 'alice', 'alice-password')).code).toBe(0);
    await other.close();
    const res = await runCli(['logout', '--issuer', other.url, '--insecure-http'], { env });
    expect(res.code).toBe(EXIT.unavailable);
    expect(res.stderr).toMatch(/removed from the cache, but the broker did not revoke/);
    expect(JSON.parse(readFileSync(cachePath(env), 'utf8')).tokens).toEqual({});
  });

  it('login-for-a-person-without-roles: bob (no groups) gets no token, and the CLI says why (exit 3)', async () => {
    const env = newCache();
    const result = await cliLogin(broker.url, env, 'bob', 'bob-password');
    expect(result.code).toBe(EXIT.refused);
    expect(result.stderr).toMatch(/the login was refused: invalid_scope/);
    expect(() => statSync(cachePath(env))).toThrow();
  });

  it('login-unknown-deployment: exit 2 before any browser is involved', async () => {
    const res = await runCli(['login', '--issuer', broker.url, '--deployment', 'nope', '--no-browser', '--insecure-http'], { env: newCache() });
    expect(res.code).toBe(EXIT.badInput);
    expect(res.stderr).toMatch(/no deployment "nope"/);
  });
});
