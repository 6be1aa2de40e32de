import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey, type JWTPayload } from 'jose';
import { signCompactEs256 } from '../../scripts/dev-directory.js';
import { KeyStore } from '../../src/keys/key-store.js';
import { ProxyAuthenticator } from '../../src/proxy/authenticate.js';
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
  verifier = new AccessTokenVerifier(keys, revocations, { issuer: ISS, audiences: [AUD], maxTtlMs: 3_600_000, clockToleranceSec: 30 });
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

describe('one token, one string (strict compact serialization before any verification)', () => {
  const ES256_SIGNATURE_CHARS = 86; // 64 bytes: the last base64url character carries 4 unused bits

  it('jws-padding-appended-to-signature', async () => {
    await refused(`${await sign(claims())}==`, 'ERR_NOT_COMPACT');
  });

  it('jws-padding-appended-to-signature at the proxy', async () => {
    const authenticator = new ProxyAuthenticator(verifier, { keys, cacheSize: 10, now: Date.now });
    const token = await sign(claims({ jti: 'j-padded' }));
    await expect(authenticator.authenticate(`Bearer ${token}`, AUD)).resolves.toMatchObject({ jti: 'j-padded' });
    const err = await authenticator.authenticate(`Bearer ${token}==`, AUD).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidTokenError);
    expect((err as InvalidTokenError).reason).toBe('ERR_NOT_COMPACT');
  });

  it.each([
    ['space-inside-signature', (t: string) => `${t.slice(0, -20)} ${t.slice(-20)}`],
    ['newline-inside-signature', (t: string) => `${t.slice(0, -20)}\n${t.slice(-20)}`],
    ['tab-after-signature', (t: string) => `${t}\t`],
    ['whitespace-inside-payload', (t: string) => t.replace('.', '. ')],
  ])('%s', async (_name, mangle) => {
    await refused(mangle(await sign(claims())), 'ERR_NOT_COMPACT');
  });

  it('non-canonical-base64url-signature (unused bits set)', async () => {
    const token = await sign(claims());
    const signature = token.split('.')[2]!;
    expect(signature).toHaveLength(ES256_SIGNATURE_CHARS);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(signature.at(-1)!);
    const twin = token.slice(0, -1) + alphabet[last ^ 1]; // decodes to the same 64 bytes
    expect(Buffer.from(twin.split('.')[2]!, 'base64url')).toEqual(Buffer.from(signature, 'base64url'));
    await refused(twin, 'ERR_NOT_COMPACT');
  });

  it('bom-before-payload', async () => {
    const header = JSON.stringify({ alg: 'ES256', kid, typ: 'at+jwt' });
    await expect(verifier.verify(await signCompactEs256(privateKey, header, JSON.stringify(claims())))).resolves.toMatchObject({ sub: 'svc' });
    await refused(await signCompactEs256(privateKey, header, `\uFEFF${JSON.stringify(claims())}`), 'ERR_NOT_COMPACT');
  });

  it('bom-before-header', async () => {
    const header = `\uFEFF${JSON.stringify({ alg: 'ES256', kid, typ: 'at+jwt' })}`;
    await refused(await signCompactEs256(privateKey, header, JSON.stringify(claims())), 'ERR_NOT_COMPACT');
  });
});

describe('time', () => {
  it('iat-in-the-future beyond the leeway', async () => {
    const now = Math.floor(Date.now() / 1000);
    await refused(await sign(claims({ iat: now + 120, nbf: now, exp: now + 300 })), 'ERR_IAT_IN_FUTURE');
  });

  it('iat-in-the-future within the leeway: accepted (clock skew)', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expect(verifier.verify(await sign(claims({ iat: now + 20, nbf: now, exp: now + 300 })))).resolves.toMatchObject({ sub: 'svc' });
  });
});

describe('aud arrays (RFC 7519 §4.1.3)', () => {
  const OTHER_DEPLOYMENT = 'https://airflow-staging.example';
  const ADMIN = `${ISS}/admin`;
  const atProxy = async (aud: string | string[]) => {
    const broker = new AccessTokenVerifier(keys, revocations, { issuer: ISS, audiences: [AUD, OTHER_DEPLOYMENT, ADMIN], maxTtlMs: 3_600_000, clockToleranceSec: 30 });
    const authenticator = new ProxyAuthenticator(broker, { keys, cacheSize: 10, now: Date.now });
    return authenticator.authenticate(`Bearer ${await sign(claims({ aud }))}`, AUD).then(
      (c) => c,
      (e: unknown) => e as InvalidTokenError,
    );
  };

  it('aud-array-with-the-deployment-and-an-unrelated-audience: accepted', async () => {
    await expect(atProxy(['https://unrelated.example', AUD])).resolves.toMatchObject({ sub: 'svc', aud: ['https://unrelated.example', AUD] });
  });

  it('aud-array-naming-another-deployment', async () => {
    expect(await atProxy([AUD, OTHER_DEPLOYMENT])).toMatchObject({ reason: 'ERR_AUD_OTHER_DEPLOYMENT' });
  });

  it('aud-array-naming-the-admin-api', async () => {
    expect(await atProxy([ADMIN, AUD])).toMatchObject({ reason: 'ERR_AUD_OTHER_DEPLOYMENT' });
  });

  it('aud-array-without-the-deployment', async () => {
    expect(await atProxy(['https://unrelated.example', OTHER_DEPLOYMENT])).toMatchObject({ reason: 'ERR_WRONG_DEPLOYMENT' });
  });
});
