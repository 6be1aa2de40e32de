import { createHash, createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { calculateJwkThumbprint, exportJWK, importJWK, type JWK } from 'jose';
import { KeyMaterialError, MIN_RSA_BITS, type KeyProblem, type SigningAlgorithm } from './key-file.js';

/** One `keys.airflow_publish_also` entry, its file already resolved against the config's directory. */
export interface PublishAlsoEntry {
  file: string;
  kid?: string | undefined;
}

/**
 * The public half of Airflow's own signing key (`[api_auth] jwt_private_key_path`), published in
 * `/airflow/jwks.json` after the broker's Airflow keys so that one API server trusts both. Never signs:
 * the broker holds no private key of Airflow's.
 */
export interface PublishedAirflowKey {
  kid: string;
  alg: SigningAlgorithm;
  file: string;
  publicJwk: JWK;
}

/**
 * Reads every entry; any unusable file (unreadable, malformed, a private key, another algorithm than
 * `keys.algorithm`, a kid given twice) refuses the whole set with a KeyMaterialError naming each file.
 */
export async function readPublishedAirflowKeys(entries: readonly PublishAlsoEntry[], algorithm: SigningAlgorithm): Promise<PublishedAirflowKey[]> {
  const keys: PublishedAirflowKey[] = [];
  const problems: KeyProblem[] = [];
  for (const entry of entries) {
    try {
      const key = await readPublishedKey(entry, algorithm);
      if (keys.some((k) => k.kid === key.kid)) throw new Error(`kid "${key.kid}" is already published by another keys.airflow_publish_also entry`);
      keys.push(key);
    } catch (err) {
      problems.push({ file: entry.file, problem: (err as Error).message });
    }
  }
  if (problems.length > 0) throw new KeyMaterialError(problems);
  return keys;
}

async function readPublishedKey(entry: PublishAlsoEntry, algorithm: SigningAlgorithm): Promise<PublishedAirflowKey> {
  let text: string;
  try {
    text = await readFile(entry.file, 'utf8');
  } catch (err) {
    throw new Error(`keys.airflow_publish_also: the file cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const { key, jwk } = text.trimStart().startsWith('{') ? fromJwkText(text) : { key: fromPem(text), jwk: undefined };
  checkAlgorithm(key, jwk?.alg, algorithm);
  const publicJwk = await exportJWK(key);
  await importJWK(publicJwk, algorithm); // jose must accept it as Airflow's verifier will
  const kid = entry.kid ?? jwk?.kid ?? (await airflowDefaultKid(publicJwk));
  return { kid, alg: algorithm, file: entry.file, publicJwk: { ...publicJwk, kid, alg: algorithm, use: 'sig' } };
}

const PRIVATE_REFUSED = 'holds a private key: publish only the public key (the broker must never hold Airflow\'s signing key)';

function fromJwkText(text: string): { key: KeyObject; jwk: JWK } {
  let jwk: JWK;
  try {
    jwk = JSON.parse(text) as JWK;
  } catch (err) {
    throw new Error(`not valid JSON (${(err as Error).message})`);
  }
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk) || typeof jwk.kty !== 'string') throw new Error('not a JWK (no "kty")');
  if (jwk.kty === 'oct') throw new Error(`a symmetric key (kty "oct"): ${PRIVATE_REFUSED}`);
  if ('d' in jwk) throw new Error(`${PRIVATE_REFUSED} (JWK member "d")`);
  try {
    return { key: createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }), jwk };
  } catch (err) {
    throw new Error(`not a usable public JWK: ${(err as Error).message}`);
  }
}

function fromPem(text: string): KeyObject {
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) throw new Error(PRIVATE_REFUSED);
  // createPublicKey would also derive a public key from a private one: refuse anything that parses as private.
  if (parsesAsPrivate(text)) throw new Error(PRIVATE_REFUSED);
  try {
    return createPublicKey(text);
  } catch (err) {
    throw new Error(`neither a PEM public key (SPKI) nor a JWK: ${(err as Error).message}`);
  }
}

function parsesAsPrivate(text: string): boolean {
  try {
    createPrivateKey(text);
    return true;
  } catch {
    return false;
  }
}

/** Airflow's `jwt_algorithm` is one value for every key it verifies and signs with, so a key of another kind cannot work. */
function checkAlgorithm(key: KeyObject, jwkAlg: string | undefined, algorithm: SigningAlgorithm): void {
  const details = key.asymmetricKeyDetails;
  const kind = key.asymmetricKeyType === 'ec' ? `EC ${details?.namedCurve}` : key.asymmetricKeyType;
  const fits =
    algorithm === 'ES256' ? key.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1'
    : algorithm === 'EdDSA' ? key.asymmetricKeyType === 'ed25519'
    : key.asymmetricKeyType === 'rsa';
  const mismatch = `keys.algorithm is ${algorithm} and Airflow's [api_auth] jwt_algorithm is one value for all its keys`;
  if (!fits) throw new Error(`a ${kind} key cannot verify ${algorithm}: ${mismatch}`);
  if (jwkAlg !== undefined && jwkAlg !== algorithm) throw new Error(`the JWK says alg "${jwkAlg}": ${mismatch}`);
  if (algorithm === 'RS256' && (details?.modulusLength ?? 0) < MIN_RSA_BITS) {
    throw new Error(`RSA key of ${details?.modulusLength ?? 0} bits; at least ${MIN_RSA_BITS} bits are required`);
  }
}

/**
 * The kid Airflow puts in its tokens when `[api_auth] jwt_kid` is unset (`key_to_jwk_dict` in
 * airflow/api_fastapi/auth/tokens.py): SHA-256 over the sorted JSON of PyJWT's public JWK. For Ed25519 that is
 * exactly the RFC 7638 thumbprint; for RSA PyJWT adds `"key_ops": ["verify"]`, so Airflow's kid is not the
 * RFC 7638 one. Airflow computes none for an EC key (it then needs `jwt_kid`).
 */
async function airflowDefaultKid(jwk: JWK): Promise<string> {
  if (jwk.kty === 'OKP') return calculateJwkThumbprint(jwk);
  if (jwk.kty === 'RSA') {
    const members = JSON.stringify({ e: jwk.e, key_ops: ['verify'], kty: 'RSA', n: jwk.n });
    return createHash('sha256').update(members).digest('base64url');
  }
  throw new Error('Airflow computes no kid for an EC key: set [api_auth] jwt_kid in Airflow and the same `kid` in this entry');
}
