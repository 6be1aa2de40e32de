import { CachedRevocationStore } from '../../src/tokens/cached-revocation-store.js';
import { MemoryRevocationStore } from '../../src/tokens/revocation-store.js';

const token = { jti: 'j1', sub: 's', client_id: 'c', iat: 1 };

it('reuses "not revoked" for the delay, sees another instance\'s revocation after it, and its own at once', async () => {
  let clock = 1_000;
  const shared = new MemoryRevocationStore(() => clock);
  const a = new CachedRevocationStore(shared, 1_000, 100, () => clock);
  expect(await a.isRevoked(token)).toBe(false);
  await shared.revoke('j1', clock + 60_000); // another instance, straight into the shared store
  expect(await a.isRevoked(token)).toBe(false); // within the delay
  clock += 1_001;
  expect(await a.isRevoked(token)).toBe(true);

  const other = { ...token, jti: 'j2' };
  expect(await a.isRevoked(other)).toBe(false);
  await a.revokeAllOf('sub', 's', 10, clock + 60_000); // through this instance
  expect(await a.isRevoked(other)).toBe(true);
});
