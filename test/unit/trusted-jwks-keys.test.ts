import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrustedJwksCredentials } from '../../src/airflow/credentials/trusted-jwks.js';
import { KeyStore } from '../../src/keys/key-store.js';
import type { Policy } from '../../src/policy/policy.js';

const caller = { subject: 'demo-etl', clientId: 'demo-etl', roles: [], policy: { roles: new Map() } as unknown as Policy };

describe('trusted-jwks minting without an Airflow signing key', () => {
  it('no-airflow-signing-key: 503 temporarily_unavailable with Retry-After, never server_error', async () => {
    const keys = new KeyStore({ dir: join(mkdtempSync(join(tmpdir(), 'atb-tj-')), 'airflow'), algorithm: 'ES256', maxTokenTtlMs: 3_600_000 });
    await keys.load(); // an empty directory: no key ever loaded
    const credentials = new TrustedJwksCredentials(keys, { audience: 'apache-airflow', issuer: undefined, ttlMs: 600_000, defaultRole: 'viewer', fab: undefined, now: Date.now });
    await expect(credentials.authorization(caller)).rejects.toMatchObject({ code: 'temporarily_unavailable', status: 503, retryAfter: expect.any(Number) });
  });

  it('mints with the active key (the control)', async () => {
    const keys = new KeyStore({ dir: mkdtempSync(join(tmpdir(), 'atb-tj-')), algorithm: 'ES256', maxTokenTtlMs: 3_600_000 });
    await keys.generate();
    const credentials = new TrustedJwksCredentials(keys, { audience: 'apache-airflow', issuer: undefined, ttlMs: 600_000, defaultRole: 'viewer', fab: undefined, now: Date.now });
    expect(await credentials.authorization(caller)).toMatch(/^Bearer ey/);
  });
});
