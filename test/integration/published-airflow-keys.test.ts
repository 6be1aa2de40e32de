import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK } from 'jose';
import { KeyMaterialError } from '../../src/keys/key-file.js';
import { readPublishedAirflowKeys } from '../../src/keys/published-airflow-keys.js';

/**
 * `keys.airflow_publish_also`: the public half of Airflow's own signing key, published beside the broker's Airflow
 * keys. Its default kid must be the one Airflow signs with, checked against the real Airflow 3.3.2 of the cached venv.
 */

const dir = mkdtempSync(join(tmpdir(), 'atb-published-'));
let n = 0;
const write = (text: string) => {
  const file = join(dir, `key-${n++}`);
  writeFileSync(file, text);
  return file;
};

const venvPython = () => join(execFileSync('scripts/airflow/ensure-venv.sh', { encoding: 'utf8' }).trim().split('\n').pop()!, 'bin', 'python');

/** The kid in the header of a token Airflow's own JWTGenerator signs with this private key, `jwt_kid` unset. */
function airflowSignedKid(privateKey: KeyObject): string {
  const pem = write(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  const script = [
    'import sys, jwt',
    'from cryptography.hazmat.primitives.serialization import load_pem_private_key',
    'from airflow.api_fastapi.auth.tokens import JWTGenerator',
    "g = JWTGenerator(private_key=load_pem_private_key(open(sys.argv[1], 'rb').read(), None), valid_for=60, audience='a')",
    "print(jwt.get_unverified_header(g.generate({'sub': 'x'}))['kid'])",
  ].join('\n');
  const home = mkdtempSync(join(tmpdir(), 'atb-airflow-home-'));
  return execFileSync(venvPython(), ['-c', script, pem], { encoding: 'utf8', env: { ...process.env, AIRFLOW_HOME: home } }).trim();
}

const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'pem' }) as string;

async function problemOf(file: string, algorithm: 'ES256' | 'EdDSA' | 'RS256', kid?: string): Promise<string> {
  const err = await readPublishedAirflowKeys([{ file, kid }], algorithm).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KeyMaterialError);
  const [problem] = (err as KeyMaterialError).problems;
  expect(problem!.file).toBe(file);
  return problem!.problem;
}

describe('airflow_publish_also default kid is the kid Airflow signs with', () => {
  it.each([
    ['RS256', () => generateKeyPairSync('rsa', { modulusLength: 2048 })],
    ['EdDSA', () => generateKeyPairSync('ed25519')],
  ] as const)('%s: PEM SPKI and JWK JSON give the kid of a token signed by Airflow 3', async (alg, make) => {
    const { publicKey, privateKey } = make();
    const expected = airflowSignedKid(privateKey);
    const [fromPem] = await readPublishedAirflowKeys([{ file: write(spki(publicKey)) }], alg);
    const [fromJwk] = await readPublishedAirflowKeys([{ file: write(JSON.stringify(await exportJWK(publicKey))) }], alg);
    expect(fromPem!.kid).toBe(expected);
    expect(fromJwk!.kid).toBe(expected);
    expect(fromPem!.publicJwk).toMatchObject({ kid: expected, alg, use: 'sig' });
    expect(fromPem!.publicJwk).not.toHaveProperty('d');
  }, 60_000);

  it('a kid in the JWK, or in the entry, wins', async () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const file = write(JSON.stringify({ ...(await exportJWK(publicKey)), kid: 'airflow-2026' }));
    expect((await readPublishedAirflowKeys([{ file }], 'ES256'))[0]!.kid).toBe('airflow-2026');
    expect((await readPublishedAirflowKeys([{ file, kid: 'from-config' }], 'ES256'))[0]!.kid).toBe('from-config');
  });

  it('an EC key without a kid is refused: Airflow computes none, it needs [api_auth] jwt_kid', async () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(await problemOf(write(spki(publicKey)), 'ES256')).toMatch(/jwt_kid/);
  });
});

describe('airflow_publish_also refuses what it must never publish', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });

  it.each([
    ['PKCS#8 PEM', () => rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string],
    ['PKCS#1 PEM', () => rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string],
    ['JWK with d', () => JSON.stringify(rsa.privateKey.export({ format: 'jwk' }))],
    ['symmetric JWK', () => JSON.stringify({ kty: 'oct', k: 'c2VjcmV0' })],
  ])('private-key-in-publish-also (%s)', async (_name, text) => {
    expect(await problemOf(write(text()), 'RS256')).toMatch(/private key/);
  });

  it('a key of another algorithm than keys.algorithm', async () => {
    expect(await problemOf(write(spki(rsa.publicKey)), 'ES256')).toMatch(/rsa key cannot verify ES256.*jwt_algorithm is one value/);
    const ec = JSON.stringify({ ...(await exportJWK(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey)), alg: 'ES384', kid: 'k' });
    expect(await problemOf(write(ec), 'ES256')).toMatch(/alg "ES384"/);
  });

  it('an unreadable or malformed file, each named', async () => {
    expect(await problemOf(join(dir, 'missing.pem'), 'RS256')).toMatch(/cannot be read \(ENOENT\)/);
    expect(await problemOf(write('{"kty": "RSA"'), 'RS256')).toMatch(/not valid JSON/);
    expect(await problemOf(write('-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n'), 'RS256')).toMatch(/neither a PEM public key/);
  });

  it('the same kid twice', async () => {
    const file = write(spki(rsa.publicKey));
    const err = await readPublishedAirflowKeys([{ file }, { file }], 'RS256').catch((e: unknown) => e);
    expect((err as KeyMaterialError).problems).toEqual([{ file, problem: expect.stringMatching(/already published/) }]);
  });
});
