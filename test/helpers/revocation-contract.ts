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

  it('blocks issuance to a subject or a client until lifted, whichever the token names', async () => {
    const t = token();
    expect(await store.blockOn(t)).toBeUndefined();
    await store.block({ kind: 'client_id', value: t.client_id, sinceMs: clock, by: 'alice' });
    expect(await store.blockOn({ sub: 'anyone', client_id: t.client_id })).toEqual({ kind: 'client_id', value: t.client_id, sinceMs: clock, by: 'alice' });
    expect(await store.blockOn({ sub: t.client_id, client_id: 'other' })).toBeUndefined(); // a client block is not a subject block
    await store.block({ kind: 'sub', value: t.sub, sinceMs: clock, by: 'bob' });
    expect(await store.blockOn({ sub: t.sub, client_id: 'other' })).toMatchObject({ kind: 'sub', by: 'bob' });
    expect(await store.lift('client_id', t.client_id)).toBe(true);
    expect(await store.lift('client_id', t.client_id)).toBe(false);
    expect(await store.blockOn({ sub: 'anyone', client_id: t.client_id })).toBeUndefined();
  });

  it('a block outlasts the revocation rule placed with it, and placing it again keeps the first', async () => {
    const t = token();
    await store.block({ kind: 'sub', value: t.sub, sinceMs: clock, by: 'alice' });
    await store.revokeAllOf('sub', t.sub, Math.floor(clock / 1000), clock + 60_000);
    await store.block({ kind: 'sub', value: t.sub, sinceMs: clock + 5, by: 'bob' });
    const placed = clock;
    clock += 3_600_000; // long after the rule's keep-until: the store may forget the rule, never the block
    await store.revoke(`${t.jti}-later`, clock + 1);
    expect(await store.blocks()).toContainEqual({ kind: 'sub', value: t.sub, sinceMs: placed, by: 'alice' });
  });

  it('lifting a block un-revokes nothing', async () => {
    const t = token();
    await store.block({ kind: 'client_id', value: t.client_id, sinceMs: clock, by: 'alice' });
    await store.revokeAllOf('client_id', t.client_id, Math.floor(clock / 1000), clock + 3_600_000);
    expect(await store.lift('client_id', t.client_id)).toBe(true);
    expect(await store.isRevoked(t)).toBe(true);
    expect(await store.blocks()).not.toContainEqual(expect.objectContaining({ value: t.client_id }));
  });

  it('lists every block, oldest first', async () => {
    const a = token();
    const b = token();
    await store.block({ kind: 'client_id', value: b.client_id, sinceMs: clock + 1, by: 'alice' });
    await store.block({ kind: 'sub', value: a.sub, sinceMs: clock, by: 'alice' });
    const listed = (await store.blocks()).filter((x) => x.value === a.sub || x.value === b.client_id);
    expect(listed.map((x) => [x.kind, x.value])).toEqual([
      ['sub', a.sub],
      ['client_id', b.client_id],
    ]);
  });
}
