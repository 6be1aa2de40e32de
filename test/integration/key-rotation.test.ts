import { statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { KeyStore } from '../../src/keys/key-store.js';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { basic, PROD_AUDIENCE, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';

const HOUR = 3_600_000;
let directory: DevDirectory;
let broker: Broker;
let clock = Date.now();

beforeAll(async () => {
  directory = await startDirectory({ accessTokenTtlSeconds: 86_400 });
  broker = await startBroker(directory, { overrides: { now: () => clock } });
});
afterAll(async () => {
  await broker.close();
  await directory.close();
});

async function issue(): Promise<{ token: string; kid: string }> {
  const res = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('demo-etl', 'demo-etl-secret') });
  expect(res.status).toBe(200);
  const token = res.body.access_token as string;
  return { token, kid: decodeProtectedHeader(token).kid! };
}

async function publishedKids(): Promise<string[]> {
  const jwks = (await (await fetch(`${broker.url}/oauth2/jwks`)).json()) as JSONWebKeySet;
  for (const key of jwks.keys) {
    expect(key).not.toHaveProperty('d'); // never a private member
    expect(key).toMatchObject({ use: 'sig', alg: 'ES256' });
  }
  return jwks.keys.map((k) => k.kid!);
}

async function verifiesAgainstJwks(token: string): Promise<boolean> {
  const jwks = (await (await fetch(`${broker.url}/oauth2/jwks`)).json()) as JSONWebKeySet;
  return jwtVerify(token, createLocalJWKSet(jwks), { issuer: broker.url, audience: PROD_AUDIENCE, currentDate: new Date(clock) }).then(
    () => true,
    () => false,
  );
}

const introspect = async (token: string) =>
  ((await (
    await fetch(`${broker.url}/oauth2/introspect`, {
      method: 'POST',
      headers: { authorization: basic('demo-etl', 'demo-etl-secret'), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }),
    })
  ).json()) as { active: boolean });

describe('signing key rotation', () => {
  it('generates the first key with mode 0600 on first start', () => {
    const files = readdirSync(join(broker.dir, 'keys')).filter((f) => f.endsWith('.json'));
    expect(files).toHaveLength(1);
    expect(statSync(join(broker.dir, 'keys', files[0]!)).mode & 0o777).toBe(0o600);
  });

  it('publishes the next key for the pre-publication time before it signs, keeps the old one until its tokens expire', async () => {
    const first = await issue();
    expect(await publishedKids()).toEqual([first.kid]);

    // `keys rotate` from another process (the CLI) writes to the shared directory...
    const cli = new KeyStore({ dir: join(broker.dir, 'keys'), algorithm: 'ES256', maxTokenTtlMs: HOUR, now: () => clock });
    await cli.load();
    const next = await cli.rotate(HOUR);
    // ...and the broker picks it up at its next reload.
    await broker.services.keys.load();

    expect(await publishedKids()).toEqual([first.kid, next.kid]);
    expect((await issue()).kid).toBe(first.kid); // published, not yet signing

    clock += HOUR - 60_000;
    const lastOld = await issue();
    expect(lastOld.kid).toBe(first.kid);

    clock += 61_000; // the pre-publication hour is over
    const fresh = await issue();
    expect(fresh.kid).toBe(next.kid);
    expect(await publishedKids()).toEqual([first.kid, next.kid]);
    // A token signed by the retired key stays valid until it expires.
    expect(await verifiesAgainstJwks(lastOld.token)).toBe(true);
    expect((await introspect(lastOld.token)).active).toBe(true);

    clock += 10 * 60_000; // lastOld has expired (10 minute role ttl); retired key still published for max_ttl
    expect((await introspect(lastOld.token)).active).toBe(false);
    expect(await publishedKids()).toContain(first.kid);

    clock += HOUR; // past max_ttl + slack after retirement: the old key leaves the JWKS
    expect(await publishedKids()).toEqual([next.kid]);
    expect(await verifiesAgainstJwks(fresh.token)).toBe(false); // fresh itself has expired by now
    expect((await issue()).kid).toBe(next.kid);
  });
});
