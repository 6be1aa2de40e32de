import { CachedRevocationStore } from '../../src/tokens/cached-revocation-store.js';
import { MemoryRevocationStore, type RevocableToken } from '../../src/tokens/revocation-store.js';

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

/** A store whose reads wait until the test lets them answer: a revocation can land while one is under way. */
class HeldReads extends MemoryRevocationStore {
  readonly waiting: Array<() => void> = [];
  override async isRevoked(token: RevocableToken): Promise<boolean> {
    const answer = super.isRevoked(token);
    await new Promise<void>((go) => this.waiting.push(go));
    return answer;
  }
}

it('not-revoked-read-during-a-revocation-through-this-instance: the answer read before the revocation is not kept', async () => {
  const shared = new HeldReads();
  const cached = new CachedRevocationStore(shared, 60_000, 100);
  const read = cached.isRevoked(token); // reads "not revoked" from the store, then waits
  await Promise.resolve();
  const revoked = cached.revoke('j1', Date.now() + 60_000);
  await revoked;
  shared.waiting.shift()!(); // the read that began before the revocation answers now
  expect(await read).toBe(false); // concurrent with the revocation: either answer is honest for this one call
  const again = cached.isRevoked(token);
  await new Promise((r) => setImmediate(r));
  shared.waiting.shift()?.();
  expect(await again).toBe(true); // but it is not reused for the next one
});

it('not-revoked-until: the deadline of a kept answer, and none for a revoked token; version moves on each revocation here', async () => {
  let clock = 1_000;
  const shared = new MemoryRevocationStore(() => clock);
  const cached = new CachedRevocationStore(shared, 1_000, 100, () => clock);
  expect(await cached.notRevokedUntil(token)).toBe(2_000);
  clock = 1_500;
  expect(await cached.notRevokedUntil(token)).toBe(2_000); // the kept answer, not a new deadline
  const before = cached.version;
  await cached.revoke('j1', clock + 60_000);
  expect(cached.version).not.toBe(before);
  expect(await cached.notRevokedUntil(token)).toBeUndefined();
  const after = cached.version;
  await cached.revokeAllOf('client_id', 'c', 10, clock + 60_000);
  expect(cached.version).not.toBe(after);
});
