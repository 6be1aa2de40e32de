import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';

export type SigningAlgorithm = 'ES256' | 'EdDSA' | 'RS256';

/** A key as it sits in the keys directory (`<kid>.json`, mode 0600). */
interface KeyFile {
  kid: string;
  alg: SigningAlgorithm;
  created_at: string;
  /** The key signs from this instant on; before it, it is only published. */
  sign_from: string;
  private_jwk: JWK;
}

export interface StoredKey {
  kid: string;
  alg: SigningAlgorithm;
  createdAt: number;
  signFrom: number;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

export type KeyState = 'pending' | 'active' | 'retired' | 'expired';

export interface KeyStatus {
  kid: string;
  alg: SigningAlgorithm;
  createdAt: number;
  signFrom: number;
  state: KeyState;
  published: boolean;
  /** When a retired key leaves the JWKS (the last token it signed has expired). */
  unpublishAt: number | undefined;
}

export interface KeyStoreOptions {
  dir: string;
  algorithm: SigningAlgorithm;
  /** Tokens signed by a retired key stay verifiable this long after it stopped signing. */
  maxTokenTtlMs: number;
  now?: () => number;
}

/** Clock skew allowance added to how long retired keys stay published. */
const RETIREMENT_SLACK_MS = 60_000;

/**
 * Signing keys in a directory that several instances may share. Which key signs and which are published
 * is derived from the files and the clock alone, so instances agree without talking to each other.
 */
export class KeyStore {
  private keys: StoredKey[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  /** Bumped whenever the set of keys changes, so verifiers can rebuild their key sets lazily. */
  version = 0;

  constructor(private readonly options: KeyStoreOptions) {
    this.now = options.now ?? Date.now;
  }

  get dir(): string {
    return this.options.dir;
  }

  async load(): Promise<void> {
    await mkdir(this.options.dir, { recursive: true, mode: 0o700 });
    const names = (await readdir(this.options.dir)).filter((n) => n.endsWith('.json')).sort();
    const loaded: StoredKey[] = [];
    for (const name of names) {
      const file = JSON.parse(await readFile(join(this.options.dir, name), 'utf8')) as KeyFile;
      const known = this.keys.find((k) => k.kid === file.kid);
      loaded.push(known ?? (await fromFile(file)));
    }
    loaded.sort(bySigningOrder);
    if (loaded.map((k) => k.kid).join() !== this.keys.map((k) => k.kid).join()) this.version++;
    this.keys = loaded;
  }

  /** Re-reads the directory periodically to pick up keys rotated by another instance or the CLI. */
  startReloading(intervalMs: number, onError: (err: unknown) => void): void {
    this.timer = setInterval(() => this.load().catch(onError), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Creates a key that signs from `signFrom` (default: now) and writes it with mode 0600. */
  async generate(signFrom = this.now()): Promise<StoredKey> {
    const alg = this.options.algorithm;
    const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
    const privateJwk = await exportJWK(privateKey);
    const kid = await calculateJwkThumbprint(privateJwk);
    const file: KeyFile = {
      kid,
      alg,
      created_at: new Date(this.now()).toISOString(),
      sign_from: new Date(signFrom).toISOString(),
      private_jwk: { ...privateJwk, kid, alg, use: 'sig' },
    };
    await mkdir(this.options.dir, { recursive: true, mode: 0o700 });
    const target = join(this.options.dir, `${kid}.json`);
    const temp = `${target}.${process.pid}.tmp`;
    await writeFile(temp, JSON.stringify(file, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    await rename(temp, target); // atomic: other instances never read half a key
    await this.load();
    return this.keys.find((k) => k.kid === kid)!;
  }

  /** Adds the next key, published now and signing after the pre-publication time. */
  rotate(prepublishMs: number): Promise<StoredKey> {
    return this.generate(this.now() + prepublishMs);
  }

  hasKeys(): boolean {
    return this.keys.length > 0;
  }

  /** The key that signs now: the latest whose signing time has come. */
  signingKey(): StoredKey | undefined {
    const now = this.now();
    let active: StoredKey | undefined;
    for (const key of this.keys) if (key.signFrom <= now) active = key;
    return active;
  }

  /** The public JWKS: pending, active, and retired keys until their last token has expired. */
  publicJwks(): { keys: JWK[] } {
    return { keys: this.status().filter((s) => s.published).map((s) => this.keys.find((k) => k.kid === s.kid)!.publicJwk) };
  }

  publicKey(kid: string): StoredKey | undefined {
    return this.status().some((s) => s.kid === kid && s.published) ? this.keys.find((k) => k.kid === kid) : undefined;
  }

  status(): KeyStatus[] {
    const now = this.now();
    const active = this.signingKey();
    return this.keys.map((key, i) => {
      const successor = this.keys.slice(i + 1).find((k) => k.signFrom <= now);
      const unpublishAt = successor ? successor.signFrom + this.options.maxTokenTtlMs + RETIREMENT_SLACK_MS : undefined;
      let state: KeyState;
      if (key.signFrom > now) state = 'pending';
      else if (key === active) state = 'active';
      else state = unpublishAt !== undefined && unpublishAt <= now ? 'expired' : 'retired';
      return { kid: key.kid, alg: key.alg, createdAt: key.createdAt, signFrom: key.signFrom, state, published: state !== 'expired', unpublishAt };
    });
  }
}

function bySigningOrder(a: StoredKey, b: StoredKey): number {
  return a.signFrom - b.signFrom || (a.kid < b.kid ? -1 : a.kid > b.kid ? 1 : 0);
}

async function fromFile(file: KeyFile): Promise<StoredKey> {
  const privateKey = (await importJWK(file.private_jwk, file.alg)) as CryptoKey;
  // Node derives the public half; no hand-picking of JWK members.
  const publicFields = await exportJWK(createPublicKey({ key: file.private_jwk as JsonWebKey, format: 'jwk' }));
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
