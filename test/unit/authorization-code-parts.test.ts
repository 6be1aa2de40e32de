import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthorizationCodes, type AuthorizedCode } from '../../src/broker/authorization/authorization-codes.js';
import { loopbackRedirectProblem } from '../../src/broker/authorization/loopback-redirect.js';
import { verifierMatches } from '../../src/broker/authorization/pkce.js';
import { TokenCache } from '../../src/cli/token-cache.js';
import { MemoryExpiringStore } from '../../src/sessions/memory-expiring-store.js';
import { calculatePKCECodeChallenge, randomPKCECodeVerifier } from 'openid-client';

/** The pieces of the CLI login, each on its own: PKCE S256, the loopback redirect rule, one-time codes, the token cache. */

describe('pkce S256', () => {
  // The client side of the pair comes from openid-client, the library the CLI uses.
  const verifier = randomPKCECodeVerifier();
  let challenge: string;
  beforeAll(async () => {
    challenge = await calculatePKCECodeChallenge(verifier);
  });

  it('accepts the verifier of its S256 challenge', () => {
    expect(verifierMatches(verifier, challenge)).toBe(true);
  });

  it('pkce-wrong-verifier: another verifier does not match', () => {
    expect(verifierMatches(randomPKCECodeVerifier(), challenge)).toBe(false);
  });

  it('pkce-plain-verifier: the challenge itself sent as verifier (plain method) does not match', () => {
    expect(verifierMatches(challenge, challenge)).toBe(false);
  });

  it('pkce-verifier-syntax: too short, too long or with other characters never matches', () => {
    expect(verifierMatches('short', challenge)).toBe(false);
    expect(verifierMatches('a'.repeat(129), challenge)).toBe(false);
    expect(verifierMatches(`${verifier.slice(0, 42)}+`, challenge)).toBe(false);
    expect(verifierMatches('', challenge)).toBe(false);
  });
});

describe('loopback redirect (RFC 8252 §7.3)', () => {
  it.each(['http://127.0.0.1:8123/callback', 'http://[::1]:50000/callback'])('accepts %s', (uri) => {
    expect(loopbackRedirectProblem(uri)).toBeUndefined();
  });

  it.each([
    ['https://127.0.0.1:8123/callback', 'not http'],
    ['http://localhost:8123/callback', 'localhost'],
    ['http://127.0.0.2:8123/callback', 'another loopback address'],
    ['http://evil.example:8123/callback', 'not loopback'],
    ['http://127.0.0.1/callback', 'no port'],
    ['http://127.0.0.1:8123/other', 'another path'],
    ['http://127.0.0.1:8123/callback/', 'a trailing slash'],
    ['http://127.0.0.1:8123/callback?x=1', 'a query'],
    ['http://127.0.0.1:8123/callback#x', 'a fragment'],
    ['http://user@127.0.0.1:8123/callback', 'user info'],
    ['http://127.0.0.1:8123/x/../callback', 'not in normal form'],
    ['http://0x7f.0.0.1:8123/callback', 'not in normal form'],
    ['not a url', 'no URL'],
  ])('refuses %s (%s)', (uri) => {
    expect(loopbackRedirectProblem(uri)).toEqual(expect.any(String));
  });
});

describe('one-time codes', () => {
  const code: AuthorizedCode = {
    clientId: 'airflow-token-broker-cli',
    redirectUri: 'http://127.0.0.1:1234/callback',
    codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    upstream: 'prod',
    identity: { directory: 'dev', issuer: 'http://dir', subject: 'alice', clientId: 'airflow-token-broker-cli', groups: ['airflow-etl'], claims: {} },
  };

  it('stores only the hash of the code, for 60 s', async () => {
    let now = 1_000;
    const store = new MemoryExpiringStore({ maxEntries: 10, now: () => now });
    const codes = new AuthorizationCodes(store, 3_600_000);
    const value = await codes.issue(code);
    expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await store.get(`code:${value}`)).toBeUndefined();
    now = 61_001;
    expect((await codes.redeem(value)).outcome).toBe('unknown');
  });

  it('code-replay: the second redemption is a replay naming the tokens of the first', async () => {
    const codes = new AuthorizationCodes(new MemoryExpiringStore({ maxEntries: 10 }), 3_600_000);
    const value = await codes.issue(code);
    expect(await codes.redeem(value)).toEqual({ outcome: 'redeemed', code });
    expect(await codes.recordIssued(value, { jti: 'j1', exp: 100 })).toBe(true);
    expect(await codes.redeem(value)).toEqual({ outcome: 'replayed', issued: [{ jti: 'j1', exp: 100 }] });
  });

  it('code-replay-before-issuance: a token recorded after a replay is refused (its grant revokes it)', async () => {
    const codes = new AuthorizationCodes(new MemoryExpiringStore({ maxEntries: 10 }), 3_600_000);
    const value = await codes.issue(code);
    await codes.redeem(value);
    await codes.redeem(value);
    expect(await codes.recordIssued(value, { jti: 'j1', exp: 100 })).toBe(false);
  });

  it('a code never issued, or of the wrong shape, is unknown', async () => {
    const codes = new AuthorizationCodes(new MemoryExpiringStore({ maxEntries: 10 }), 3_600_000);
    expect((await codes.redeem('A'.repeat(43))).outcome).toBe('unknown');
    expect((await codes.redeem('x')).outcome).toBe('unknown');
  });
});

describe('token cache', () => {
  const entry = (deployment: string, token: string) => ({
    issuer: 'http://127.0.0.1:8400',
    deployment,
    resource: `https://${deployment}.example`,
    access_token: token,
    scope: 'etl-operator',
    expires_at: 1_000,
  });

  it('keeps one entry per broker and deployment, in a file only its owner can read', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'atb-cache-')), 'sub', 'tokens.json');
    const cache = new TokenCache(path);
    cache.put(entry('prod', 'a'));
    cache.put(entry('staging', 'b'));
    cache.put(entry('prod', 'c'));
    expect(cache.get('http://127.0.0.1:8400/', 'prod')?.access_token).toBe('c');
    expect(cache.forIssuer('http://127.0.0.1:8400').map((t) => t.deployment).sort()).toEqual(['prod', 'staging']);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(path, '..')).mode & 0o077).toBe(0);
    expect(cache.remove('http://127.0.0.1:8400', 'prod').map((t) => t.access_token)).toEqual(['c']);
    expect(cache.get('http://127.0.0.1:8400', 'prod')).toBeUndefined();
    expect(cache.remove('http://127.0.0.1:8400').map((t) => t.access_token)).toEqual(['b']);
  });
});
