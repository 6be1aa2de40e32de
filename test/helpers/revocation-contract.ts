import type { RevocationStore } from '../../src/tokens/revocation-store.js';

/** What every store behind the RevocationStore port must mean, whatever backs it. */
export function revocationStoreContract(make: (now: () => number) => Promise<RevocationStore> | RevocationStore): void {
  let clock = Date.now();
  let store: RevocationStore;
  beforeEach(async () => {
    clock = Date.now();
    store = await make(() => clock);
  });
  afterEach(() => store.close());
  let n = 0;
  const token = (over: Partial<{ jti: string; sub: string; client_id: string; iat: number }> = {}) => ({
    jti: `j-${++n}`,
    sub: `svc-${n}`,
    client_id: `svc-${n}`,
    iat: Math.floor(clock / 1000) - 10,
    ...over,
  });

  it('revokes by jti only that token', async () => {
    const t = token();
    await store.revoke(t.jti, clock + 60_000);
    expect(await store.isRevoked(t)).toBe(true);
    expect(await store.isRevoked({ ...t, jti: `${t.jti}-other` })).toBe(false);
  });

  it('revokes every token of a subject issued up to the cut-off, not later ones', async () => {
    const t = token();
    await store.revokeAllOf('sub', t.sub, Math.floor(clock / 1000), clock + 3_600_000);
    expect(await store.isRevoked(t)).toBe(true);
    expect(await store.isRevoked({ ...t, jti: 'b', client_id: 'other' })).toBe(true);
    expect(await store.isRevoked({ ...t, jti: 'c', iat: Math.floor(clock / 1000) + 1 })).toBe(false);
    expect(await store.isRevoked({ ...t, jti: 'd', sub: 'someone-else', client_id: 'other' })).toBe(false);
  });

  it('revokes every token of a client, whatever the subject', async () => {
    const t = token({ client_id: `leaked-${n}` });
    await store.revokeAllOf('client_id', t.client_id, Math.floor(clock / 1000), clock + 3_600_000);
    expect(await store.isRevoked({ ...t, sub: 'alice' })).toBe(true);
    expect(await store.isRevoked({ ...t, sub: t.client_id, client_id: 'fine' })).toBe(false);
  });

  it('a later cut-off widens, an earlier one never narrows', async () => {
    const t = token();
    await store.revokeAllOf('sub', t.sub, Math.floor(clock / 1000), clock + 3_600_000);
    await store.revokeAllOf('sub', t.sub, Math.floor(clock / 1000) - 100, clock + 3_600_000);
    expect(await store.isRevoked({ ...t, iat: Math.floor(clock / 1000) - 5 })).toBe(true);
  });
}
