import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyStore } from '../../src/keys/key-store.js';

/** The reload rule of the key store: which reads are withdrawals and which are outages or broken files. */
const open = () => new KeyStore({ dir: join(mkdtempSync(join(tmpdir(), 'atb-reload-')), 'keys'), algorithm: 'ES256', maxTokenTtlMs: 3_600_000 });
const kids = (keys: KeyStore) => keys.status().map((s) => s.kid);

describe('key store reloads', () => {
  it('deleting one key file withdraws that key at the next read and bumps the version', async () => {
    const keys = open();
    const old = await keys.generate(Date.now() - 1_000);
    const next = await keys.generate();
    const version = keys.version;
    rmSync(join(keys.dir, `${old.kid}.json`));
    expect(await keys.load()).toEqual([]);
    expect(kids(keys)).toEqual([next.kid]);
    expect(keys.version).toBeGreaterThan(version);
    expect(keys.isWithdrawn(old.kid)).toBe(true);
    expect(keys.isWithdrawn(next.kid)).toBe(false);
  });

  it('a key file that turns bad keeps the key it held, and is reported until fixed', async () => {
    const keys = open();
    const key = await keys.generate();
    const file = join(keys.dir, `${key.kid}.json`);
    chmodSync(file, 0o644);
    expect(await keys.load()).toEqual([{ file, problem: expect.stringMatching(/mode 0644/) }]);
    expect(keys.signingKey()?.kid).toBe(key.kid);
    expect(keys.health()).toMatchObject({ state: 'degraded', signing_key: key.kid, problems: [{ file }] });
    chmodSync(file, 0o600);
    expect(await keys.load()).toEqual([]);
    expect(keys.health()).toMatchObject({ state: 'ok', problems: [] });
  });

  it('a broken new file is ignored; the good keys stay', async () => {
    const keys = open();
    const key = await keys.generate();
    writeFileSync(join(keys.dir, 'next.json'), '{}', { mode: 0o600 });
    const problems = await keys.load();
    expect(problems).toEqual([{ file: join(keys.dir, 'next.json'), problem: expect.stringMatching(/^not a key file: kid:/) }]);
    expect(kids(keys)).toEqual([key.kid]);
  });

  it('before any key exists, a missing directory is no problem and is not created by a read', async () => {
    const keys = open();
    expect(await keys.load()).toEqual([]);
    expect(existsSync(keys.dir)).toBe(false);
    expect(keys.health()).toMatchObject({ state: 'unavailable', keys: 0 });
    expect(() => keys.requireSigningKey()).toThrow(expect.objectContaining({ code: 'temporarily_unavailable', status: 503 }));
  });
});
