import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey, type JWTPayload } from 'jose';
import { KeyStore } from '../../src/keys/key-store.js';
import { AccessTokenVerifier, InvalidTokenError } from '../../src/tokens/access-token-verifier.js';
import { MemoryRevocationStore } from '../../src/tokens/revocation-store.js';

/** The verifier behind the proxy and introspection: one forged or unfit token, one test. */
const ISS = 'https://broker.example';
const AUD = 'https://airflow.example';
let keys: KeyStore;
let verifier: AccessTokenVerifier;
let revocations: MemoryRevocationStore;
let kid: string;
let privateKey: CryptoKey;

beforeAll(async () => {
  keys = new KeyStore({ dir: mkdtempSync(join(tmpdir(), 'atb-attack-')), algorithm: 'ES256', maxTokenTtlMs: 3_600_000 });
  await keys.load();
  const key = await keys.generate();
  kid = key.kid;
  privateKey = key.privateKey;
  revocations = new MemoryRevocationStore();
  verifier = new AccessTokenVerifier(keys, revocations, { issuer: ISS, audiences: [AUD], maxTtlMs: 3_600_000 });
});

const claims = (over: JWTPayload = {}): JWTPayload => {
  const now = Math.floor(Date.now() / 1000);
  return { iss: ISS, aud: AUD, sub: 'svc', client_id: 'svc', scope: 'etl-operator', jti: 'j-1', iat: now, nbf: now, exp: now + 300, ...over };
};
const sign = (payload: JWTPayload, header: Record<string, unknown> = {}, key: CryptoKey | Uint8Array = privateKey) =>
  new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt', ...header } as never).sign(key);

const refused = async (token: string, reason?: string) => {
  const err = await verifier.verify(token).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(InvalidTokenError);
  if (reason) expect((err as InvalidTokenError).reason).toBe(reason);
};

it('genuine: accepted (the control case)', async () => {
  await expect(verifier.verify(await sign(claims()))).resolves.toMatchObject({ sub: 'svc' });
});

it('foreign-key-same-kid', async () => {
  const { privateKey: other } = await generateKeyPair('ES256');
  await refused(await sign(claims(), {}, other));
});

it('alg-none', async () => {
  await refused(new UnsecuredJWT(claims()).encode());
});

it('alg-confusion-hs256-with-public-key', async () => {
  const secret = new TextEncoder().encode(JSON.stringify(await exportJWK(keys.publicKey(kid)!.publicKey)));
  await refused(await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' }).sign(secret));
});

it('unknown-kid', async () => {
  await refused(await sign(claims(), { kid: 'not-ours' }), 'ERR_JWKS_NO_MATCHING_KEY');
});

it('wrong-typ (an ID token or plain JWT)', async () => {
  await refused(await sign(claims(), { typ: 'JWT' }));
});

it('wrong-issuer', async () => {
  await refused(await sign(claims({ iss: 'https://evil.example' })));
});

it('wrong-audience', async () => {
  await refused(await sign(claims({ aud: 'https://other-airflow.example' })));
});

it('expired', async () => {
  const now = Math.floor(Date.now() / 1000);
  await refused(await sign(claims({ iat: now - 700, nbf: now - 700, exp: now - 400 })), 'ERR_JWT_EXPIRED');
});

it('not-yet-valid', async () => {
  const now = Math.floor(Date.now() / 1000);
  await refused(await sign(claims({ nbf: now + 600, exp: now + 900 })));
});

it('lifetime-longer-than-the-broker-issues', async () => {
  const now = Math.floor(Date.now() / 1000);
  await refused(await sign(claims({ exp: now + 7_200 })), 'ERR_LIFETIME_TOO_LONG');
});

it.each(['jti', 'client_id', 'sub', 'exp', 'iat', 'nbf', 'scope'])('missing-%s', async (claim) => {
  const c = claims();
  delete c[claim];
  await refused(await sign(c));
});

it('revoked-by-jti', async () => {
  await revocations.revoke('j-revoked', Date.now() + 600_000);
  await refused(await sign(claims({ jti: 'j-revoked' })), 'ERR_REVOKED');
});
