import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryRevocationStore, type RevocationStore } from '../../src/tokens/revocation-store.js';
import { SqliteRevocationStore } from '../../src/tokens/sqlite-revocation-store.js';

/** Both stores behind the port must mean the same thing. */
const stores: Array<[string, (now: () => number) => RevocationStore]> = [
  ['memory', (now) => new MemoryRevocationStore(now)],
  ['sqlite', (now) => new SqliteRevocationStore(join(mkdtempSync(join(tmpdir(), 'atb-rev-')), 'r.sqlite'), now)],
];

describe.each(stores)('%s revocation store', (_name, make) => {
  let clock = 1_800_000_000_000;
  let store: RevocationStore;
  beforeEach(() => {
    store = make(() => clock);
  });
  afterEach(() => store.close());
  const token = (over: Partial<{ jti: string; sub: string; client_id: string; iat: number }> = {}) => ({
    jti: 'j1',
    sub: 'svc-etl',
    client_id: 'svc-etl',
    iat: clock / 1000 - 10,
    ...over,
  });

  it('revokes by jti only that token', async () => {
    await store.revoke('j1', clock + 60_000);
    expect(await store.isRevoked(token())).toBe(true);
    expect(await store.isRevoked(token({ jti: 'j2' }))).toBe(false);
  });

  it('revokes every token of a subject issued up to the cut-off, not later ones', async () => {
    await store.revokeAllOf('sub', 'svc-etl', clock / 1000, clock + 3_600_000);
    expect(await store.isRevoked(token({ jti: 'a' }))).toBe(true);
    expect(await store.isRevoked(token({ jti: 'b', client_id: 'other' }))).toBe(true);
    expect(await store.isRevoked(token({ jti: 'c', iat: clock / 1000 + 1 }))).toBe(false);
    expect(await store.isRevoked(token({ jti: 'd', sub: 'someone-else', client_id: 'other' }))).toBe(false);
  });

  it('revokes every token of a client, whatever the subject', async () => {
    await store.revokeAllOf('client_id', 'leaked-client', clock / 1000, clock + 3_600_000);
    expect(await store.isRevoked(token({ sub: 'alice', client_id: 'leaked-client' }))).toBe(true);
    expect(await store.isRevoked(token({ sub: 'leaked-client', client_id: 'fine' }))).toBe(false);
  });

  it('a later cut-off widens, an earlier one never narrows', async () => {
    await store.revokeAllOf('sub', 'svc-etl', clock / 1000, clock + 3_600_000);
    await store.revokeAllOf('sub', 'svc-etl', clock / 1000 - 100, clock + 3_600_000);
    expect(await store.isRevoked(token({ iat: clock / 1000 - 5 }))).toBe(true);
  });
});
