import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { SubjectTemplate } from '../../src/airflow/credentials/subject-template.js';
import { TrustedJwksCredentials } from '../../src/airflow/credentials/trusted-jwks.js';
import { KeyStore } from '../../src/keys/key-store.js';
import type { Policy } from '../../src/policy/policy.js';

const caller = { subject: 'demo-etl', clientId: 'demo-etl', roles: [], policy: { roles: new Map() } as unknown as Policy, claims: { sub: 'demo-etl', client_id: 'demo-etl' } };
const options = { audience: 'apache-airflow', issuer: undefined, ttlMs: 600_000, defaultRole: 'viewer' as const, subject: SubjectTemplate.parse('{sub}'), fab: undefined, now: Date.now };

describe('trusted-jwks minting without an Airflow signing key', () => {
  it('no-airflow-signing-key: 503 temporarily_unavailable with Retry-After, never server_error', async () => {
    const keys = new KeyStore({ dir: join(mkdtempSync(join(tmpdir(), 'atb-tj-')), 'airflow'), algorithm: 'ES256', maxTokenTtlMs: 3_600_000 });
    await keys.load(); // an empty directory: no key ever loaded
    const credentials = new TrustedJwksCredentials(keys, options);
    await expect(credentials.authorization(caller)).rejects.toMatchObject({ code: 'temporarily_unavailable', status: 503, retryAfter: expect.any(Number) });
  });

  it('mints with the active key (the control)', async () => {
    const keys = new KeyStore({ dir: mkdtempSync(join(tmpdir(), 'atb-tj-')), algorithm: 'ES256', maxTokenTtlMs: 3_600_000 });
    await keys.generate();
    const credentials = new TrustedJwksCredentials(keys, options);
    expect(await credentials.authorization(caller)).toMatch(/^Bearer ey/);
  });

  it('the minted sub is what identity.subject makes of the caller\'s claims, and each name gets its own token', async () => {
    const keys = new KeyStore({ dir: mkdtempSync(join(tmpdir(), 'atb-tj-')), algorithm: 'ES256', maxTokenTtlMs: 3_600_000 });
    await keys.generate();
    const credentials = new TrustedJwksCredentials(keys, { ...options, subject: SubjectTemplate.parse('svc:{client_id}') });
    const a = await credentials.authorization({ ...caller, claims: { sub: 'guid-1', client_id: 'etl-a' } });
    const b = await credentials.authorization({ ...caller, claims: { sub: 'guid-1', client_id: 'etl-b' } });
    expect([decodeJwt(a.slice(7)).sub, decodeJwt(b.slice(7)).sub]).toEqual(['svc:etl-a', 'svc:etl-b']);
  });

  it('minted-token-reused-for-another-client: two clients Airflow knows by one name still get tokens naming their own client_id', async () => {
    const keys = new KeyStore({ dir: mkdtempSync(join(tmpdir(), 'atb-tj-')), algorithm: 'ES256', maxTokenTtlMs: 3_600_000 });
    await keys.generate();
    const credentials = new TrustedJwksCredentials(keys, { ...options, subject: SubjectTemplate.parse('{sub}') });
    const a = await credentials.authorization({ ...caller, clientId: 'etl-a', claims: { sub: 'guid-1', client_id: 'etl-a' } });
    const b = await credentials.authorization({ ...caller, clientId: 'etl-b', claims: { sub: 'guid-1', client_id: 'etl-b' } });
    expect([decodeJwt(a.slice(7)).client_id, decodeJwt(b.slice(7)).client_id]).toEqual(['etl-a', 'etl-b']);
  });

  it('identity-claim-missing: a claim the template names that the token lacks is a 403 naming it, never a 500', async () => {
    const keys = new KeyStore({ dir: mkdtempSync(join(tmpdir(), 'atb-tj-')), algorithm: 'ES256', maxTokenTtlMs: 3_600_000 });
    await keys.generate();
    const credentials = new TrustedJwksCredentials(keys, { ...options, subject: SubjectTemplate.parse('{email}') });
    await expect(credentials.authorization(caller)).rejects.toMatchObject({ code: 'insufficient_scope', status: 403, description: expect.stringContaining('"email"') });
  });
});
