import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyStore } from '../../src/keys/key-store.js';
import { ProxyAuthenticator } from '../../src/proxy/authenticate.js';
import { AccessTokenIssuer } from '../../src/tokens/access-token-issuer.js';
import { AccessTokenVerifier } from '../../src/tokens/access-token-verifier.js';
import { MemoryRevocationStore } from '../../src/tokens/revocation-store.js';

/** The proxy's authentication stage alone: its cache of verified tokens never outlives a token's key. */
const ISS = 'https://broker.example';
const AUD = 'https://airflow.example';

async function setUp() {
  const keys = new KeyStore({ dir: mkdtempSync(join(tmpdir(), 'atb-authn-')), algorithm: 'ES256', maxTokenTtlMs: 3_600_000 });
  const first = await keys.generate(Date.now() - 1_000);
  const verifier = new AccessTokenVerifier(keys, new MemoryRevocationStore(), { issuer: ISS, audiences: [AUD], maxTtlMs: 3_600_000, clockToleranceSec: 30 });
  const authenticator = new ProxyAuthenticator(verifier, { keys, cacheSize: 100, now: Date.now });
  const issuer = new AccessTokenIssuer(ISS, keys);
  const issue = async () =>
    `Bearer ${(await issuer.issue({ subject: 'svc', clientId: 'svc', audience: AUD, roles: ['etl-operator'], authorizationDetails: undefined, ttlMs: 300_000 })).token}`;
  return { keys, first, authenticator, issue };
}

describe('ProxyAuthenticator and the key set', () => {
  it('a cached token survives a key-set change that keeps its key', async () => {
    const { keys, authenticator, issue } = await setUp();
    const token = await issue();
    await authenticator.authenticate(token, AUD);
    const version = keys.version;
    await keys.rotate(3_600_000); // a pending key: the set changes, the token's key stays
    expect(keys.version).not.toBe(version);
    await expect(authenticator.authenticate(token, AUD)).resolves.toMatchObject({ sub: 'svc' });
  });

  it('cached-token-of-withdrawn-key: refused with ERR_KEY_WITHDRAWN once its key file is gone', async () => {
    const { keys, first, authenticator, issue } = await setUp();
    const token = await issue();
    await authenticator.authenticate(token, AUD);
    expect(authenticator.cachedTokens).toBe(1);
    await keys.generate(); // the replacement signs now
    rmSync(join(keys.dir, `${first.kid}.json`));
    await keys.load();
    await expect(authenticator.authenticate(token, AUD)).rejects.toMatchObject({ code: 'invalid_token', reason: 'ERR_KEY_WITHDRAWN' });
    expect(authenticator.cachedTokens).toBe(0);
    await expect(authenticator.authenticate(await issue(), AUD)).resolves.toMatchObject({ sub: 'svc' });
  });
});
