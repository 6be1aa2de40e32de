import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { KeyStore, type SigningAlgorithm } from '../../src/keys/key-store.js';
import { AccessTokenIssuer } from '../../src/tokens/access-token-issuer.js';
import { AccessTokenVerifier } from '../../src/tokens/access-token-verifier.js';
import { MemoryRevocationStore } from '../../src/tokens/revocation-store.js';

describe.each<SigningAlgorithm>(['ES256', 'EdDSA', 'RS256'])('signing with %s', (alg) => {
  it('issues tokens that verify against the published JWKS and through our verifier', async () => {
    const keys = new KeyStore({ dir: mkdtempSync(join(tmpdir(), 'atb-alg-')), algorithm: alg, maxTokenTtlMs: 3_600_000 });
    await keys.load();
    await keys.generate();
    const jwks = keys.publicJwks();
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ alg, use: 'sig' });
    for (const privateMember of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(jwks.keys[0]).not.toHaveProperty(privateMember);
    const { token } = await new AccessTokenIssuer('https://broker.example', keys).issue({
      subject: 'svc',
      clientId: 'svc',
      audience: 'https://airflow.example',
      roles: ['r'],
      authorizationDetails: undefined,
      ttlMs: 300_000,
    });
    expect(decodeProtectedHeader(token)).toMatchObject({ alg, typ: 'at+jwt', kid: jwks.keys[0]!.kid });
    await expect(jwtVerify(token, createLocalJWKSet(jwks), { issuer: 'https://broker.example', audience: 'https://airflow.example' })).resolves.toBeDefined();
    const verifier = new AccessTokenVerifier(keys, new MemoryRevocationStore(), { issuer: 'https://broker.example', audiences: ['https://airflow.example'], maxTtlMs: 3_600_000, clockToleranceSec: 30 });
    await expect(verifier.verify(token)).resolves.toMatchObject({ sub: 'svc', scope: 'r' });
  });
});
