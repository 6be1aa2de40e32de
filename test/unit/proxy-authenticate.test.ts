import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyStore } from '../../src/keys/key-store.js';
import { ProxyAuthenticator } from '../../src/proxy/authenticate.js';
import { AccessTokenIssuer } from '../../src/tokens/access-token-issuer.js';
import { AccessTokenVerifier } from '../../src/tokens/access-token-verifier.js';
import { CachedRevocationStore } from '../../src/tokens/cached-revocation-store.js';
import { MemoryRevocationStore, type RevocableToken } from '../../src/tokens/revocation-store.js';

/** The proxy's authentication stage alone: its cache of verified tokens never outlives a token's key. */
const ISS = 'https://broker.example';
const AUD = 'https://airflow.example';
const OTHER = 'https://other-airflow.example';

async function setUp() {
  const keys = new KeyStore({ dir: mkdtempSync(join(tmpdir(), 'atb-authn-')), algorithm: 'ES256', maxTokenTtlMs: 3_600_000 });
  const first = await keys.generate(Date.now() - 1_000);
  const revocations = new MemoryRevocationStore();
  const verifier = new AccessTokenVerifier(keys, revocations, { issuer: ISS, audiences: [AUD, OTHER], maxTtlMs: 3_600_000, clockToleranceSec: 30 });
  const authenticator = new ProxyAuthenticator(verifier, { keys, cacheSize: 100, now: Date.now });
  const issuer = new AccessTokenIssuer(ISS, keys);
  const issue = async (roles = ['etl-operator']) =>
    `Bearer ${(await issuer.issue({ subject: 'svc', clientId: 'svc', audience: AUD, roles, authorizationDetails: undefined, ttlMs: 300_000 })).token}`;
  return { keys, first, authenticator, issue, revocations };
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

describe('ProxyAuthenticator: what depends only on the token, once per token', () => {
  it('verified-token-once-per-token: the same verified token, its roles split once and frozen', async () => {
    const { authenticator, issue } = await setUp();
    const header = await issue(['etl-operator', 'viewer']);
    const first = await authenticator.verifiedToken(header, AUD);
    expect(first.roles).toEqual(['etl-operator', 'viewer']);
    expect(first.roles).toEqual(first.claims.scope.split(' '));
    expect(Object.isFrozen(first.roles)).toBe(true);
    const again = await authenticator.verifiedToken(header, AUD);
    expect(again).toBe(first);
    await expect(authenticator.authenticate(header, AUD)).resolves.toBe(first.claims);
  });

  it('cached-token-header-variants: a cached token passes only in a header the Bearer syntax accepts', async () => {
    const { authenticator, issue } = await setUp();
    const header = await issue();
    const token = header.slice('Bearer '.length);
    await authenticator.verifiedToken(header, AUD); // cached from now on
    for (const accepted of [`bearer ${token}`, `BEARER ${token}`, `Bearer ${token}`]) {
      await expect(authenticator.verifiedToken(accepted, AUD)).resolves.toMatchObject({ claims: { sub: 'svc' } });
    }
    for (const refused of [`Bearer  ${token}`, `Bearer\t${token}`, `Bearer ${token} `, `Basic ${token}`, `Bearer${token}`, `Bearer ${token}==`, `Bearer ${token}.x`, token, `x${header}`]) {
      await expect(authenticator.verifiedToken(refused, AUD)).rejects.toMatchObject({ code: 'invalid_token' });
    }
  });

  it('cached-token-other-deployment: a token cached at its deployment is refused at another one, every time', async () => {
    const { authenticator, issue } = await setUp();
    const header = await issue();
    await authenticator.verifiedToken(header, AUD);
    for (let i = 0; i < 2; i++) await expect(authenticator.verifiedToken(header, OTHER)).rejects.toMatchObject({ reason: 'ERR_WRONG_DEPLOYMENT' });
    await expect(authenticator.verifiedToken(header, AUD)).resolves.toMatchObject({ claims: { aud: AUD } });
  });

  it('cached-token-revoked: a cached token is refused as soon as it is revoked', async () => {
    const { authenticator, issue, revocations } = await setUp();
    const header = await issue();
    const { claims } = await authenticator.verifiedToken(header, AUD);
    await revocations.revoke(claims.jti, claims.exp * 1000);
    await expect(authenticator.verifiedToken(header, AUD)).rejects.toMatchObject({ reason: 'ERR_REVOKED' });
  });
});

/** The one entry per token and its "not revoked" deadline, under the broker's cached revocation answers. */
describe('ProxyAuthenticator: the token entry and its "not revoked" deadline', () => {
  /** A shared store that counts its revocation reads (what another instance writes lands here directly). */
  class CountedStore extends MemoryRevocationStore {
    reads = 0;
    override isRevoked(token: RevocableToken): Promise<boolean> {
      this.reads++;
      return super.isRevoked(token);
    }
  }

  async function withDeadline(delayMs = 1_000) {
    let clock = Date.now();
    const keys = new KeyStore({ dir: mkdtempSync(join(tmpdir(), 'atb-authn-')), algorithm: 'ES256', maxTokenTtlMs: 3_600_000 });
    await keys.generate(clock - 1_000);
    const shared = new CountedStore(() => clock);
    const revocations = new CachedRevocationStore(shared, delayMs, 100, () => clock);
    const now = () => clock;
    const verifier = new AccessTokenVerifier(keys, revocations, { issuer: ISS, audiences: [AUD], maxTtlMs: 3_600_000, clockToleranceSec: 30, now });
    const authenticator = new ProxyAuthenticator(verifier, { keys, cacheSize: 100, now, revocations });
    const issuer = new AccessTokenIssuer(ISS, keys, now);
    const header = `Bearer ${(await issuer.issue({ subject: 'svc', clientId: 'svc', audience: AUD, roles: ['etl-operator'], authorizationDetails: undefined, ttlMs: 300_000 })).token}`;
    return { authenticator, revocations, shared, header, advance: (ms: number) => (clock += ms) };
  }

  it('token-entry-not-revoked-deadline: one store read per delay, however many requests', async () => {
    const { authenticator, shared, header, advance } = await withDeadline();
    for (let i = 0; i < 5; i++) await authenticator.verifiedToken(header, AUD);
    expect(shared.reads).toBe(1);
    advance(1_001);
    await authenticator.verifiedToken(header, AUD);
    expect(shared.reads).toBe(2);
  });

  it('token-entry-revoked-through-this-instance: refused on the next request, within the delay', async () => {
    const { authenticator, revocations, header } = await withDeadline(60_000);
    const { claims } = await authenticator.verifiedToken(header, AUD);
    await revocations.revoke(claims.jti, claims.exp * 1000);
    await expect(authenticator.verifiedToken(header, AUD)).rejects.toMatchObject({ reason: 'ERR_REVOKED' });
  });

  it('token-entry-subject-revoked-through-this-instance: refused on the next request, within the delay', async () => {
    const { authenticator, revocations, header, advance } = await withDeadline(60_000);
    await authenticator.verifiedToken(header, AUD);
    advance(1_000);
    await revocations.revokeAllOf('client_id', 'svc', Math.floor(Date.now() / 1000) + 10, Date.now() + 3_600_000);
    await expect(authenticator.verifiedToken(header, AUD)).rejects.toMatchObject({ reason: 'ERR_REVOKED' });
  });

  it('token-entry-revoked-by-another-instance: admitted within the delay, refused once it passed', async () => {
    const { authenticator, shared, header, advance } = await withDeadline(1_000);
    const { claims } = await authenticator.verifiedToken(header, AUD);
    await shared.revoke(claims.jti, claims.exp * 1000); // another instance, straight into the shared store
    advance(999);
    await expect(authenticator.verifiedToken(header, AUD)).resolves.toMatchObject({ claims: { jti: claims.jti } });
    advance(2);
    await expect(authenticator.verifiedToken(header, AUD)).rejects.toMatchObject({ reason: 'ERR_REVOKED' });
  });

  it('token-entry-past-exp: a token held with a fresh "not revoked" answer is refused as expired past exp and the leeway', async () => {
    const { authenticator, header, advance } = await withDeadline(3_600_000);
    const { claims } = await authenticator.verifiedToken(header, AUD);
    advance((claims.exp - Date.now() / 1000 + 31) * 1000);
    await expect(authenticator.verifiedToken(header, AUD)).rejects.toMatchObject({ rejection: 'expired' });
  });
});
