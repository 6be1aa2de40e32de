import { readFile, stat } from 'node:fs/promises';
import { createPrivateKey, createPublicKey, type JsonWebKey } from 'node:crypto';
import { exportJWK, importJWK, type CryptoKey, type JWK } from 'jose';
import { z } from 'zod';

export type SigningAlgorithm = 'ES256' | 'EdDSA' | 'RS256';

/** The smallest RSA modulus a key file may hold (NIST SP 800-131A; jose refuses to sign with less). */
export const MIN_RSA_BITS = 2048;

/** A key as it sits in the keys directory (`<kid>.json`, mode 0600). */
const keyFileSchema = z.object({
  kid: z.string().min(1),
  alg: z.enum(['ES256', 'EdDSA', 'RS256']),
  created_at: z.iso.datetime({ offset: true }),
  /** The key signs from this instant on; before it, it is only published. */
  sign_from: z.iso.datetime({ offset: true }),
  private_jwk: z.looseObject({ kty: z.string() }),
});

export type KeyFile = z.infer<typeof keyFileSchema>;

export interface StoredKey {
  kid: string;
  alg: SigningAlgorithm;
  createdAt: number;
  signFrom: number;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

/** Why a key file (or the directory itself) could not be used; `file` is a full path. */
export interface KeyProblem {
  file: string;
  problem: string;
}

/** Broken key material: refused at start and by the `keys` CLI verbs, one line per file. */
export class KeyMaterialError extends Error {
  constructor(readonly problems: readonly KeyProblem[]) {
    super(problems.map((p) => `${p.file}: ${p.problem}`).join('\n'));
    this.name = 'KeyMaterialError';
  }
}

/** What a file held when it was last read: unchanged text is not parsed and imported again. */
export interface ReadKey {
  text: string;
  key: StoredKey;
}

/**
 * Reads and checks one key file: owner-only mode, strict JSON of the expected shape, a private key that fits
 * `alg`, RSA of at least 2048 bits. Throws an Error whose message is the problem (without the file name).
 */
export async function readKeyFile(path: string, last: ReadKey | undefined): Promise<ReadKey> {
  const info = await stat(path); // follows symlinks, as a mounted Secret's files are
  if (!info.isFile()) throw new Error('not a regular file');
  if ((info.mode & 0o077) !== 0) {
    throw new Error(`readable or writable by group or others (mode 0${(info.mode & 0o777).toString(8)}); a key file must be owner-only: chmod 600`);
  }
  const text = await readFile(path, 'utf8');
  if (last && last.text === text) return last;
  return { text, key: await fromFile(parseKeyFile(text)) };
}

function parseKeyFile(text: string): KeyFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`not valid JSON (${(err as Error).message}); truncated or half-written?`);
  }
  const result = keyFileSchema.safeParse(json);
  if (!result.success) throw new Error(`not a key file: ${result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return result.data;
}

async function fromFile(file: KeyFile): Promise<StoredKey> {
  const jwk = file.private_jwk as JWK;
  if (typeof jwk.d !== 'string') throw new Error('holds no private key (private_jwk has no "d"): a public key cannot sign');
  let details;
  try {
    details = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' }).asymmetricKeyDetails;
  } catch (err) {
    throw new Error(`private_jwk is not a usable private key: ${(err as Error).message}`);
  }
  if (file.alg === 'RS256' && (details?.modulusLength ?? 0) < MIN_RSA_BITS) {
    throw new Error(`RSA key of ${details?.modulusLength ?? 0} bits; at least ${MIN_RSA_BITS} bits are required`);
  }
  let privateKey: CryptoKey;
  try {
    privateKey = (await importJWK(jwk, file.alg)) as CryptoKey;
  } catch (err) {
    throw new Error(`private_jwk does not fit alg ${file.alg}: ${(err as Error).message}`);
  }
  // Node derives the public half; no hand-picking of JWK members.
  const publicFields = await exportJWK(createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }));
  const publicJwk: JWK = { ...publicFields, kid: file.kid, alg: file.alg, use: 'sig' };
  return {
    kid: file.kid,
    alg: file.alg,
    createdAt: Date.parse(file.created_at),
    signFrom: Date.parse(file.sign_from),
    privateKey,
    publicKey: (await importJWK(publicJwk, file.alg)) as CryptoKey,
    publicJwk,
  };
}
