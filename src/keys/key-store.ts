import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { OAuthError } from '../errors/oauth-error.js';
import { readKeyFile, type KeyFile, type KeyProblem, type ReadKey, type SigningAlgorithm, type StoredKey } from './key-file.js';
import type { PublishedAirflowKey } from './published-airflow-keys.js';

export type { KeyProblem, SigningAlgorithm, StoredKey } from './key-file.js';

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
  /** Public keys of others published after this set's own, never signing (`keys.airflow_publish_also`). */
  publishAlso?: readonly PublishedAirflowKey[];
}

/** The key set's state for `/readyz`: `degraded` = serving the last good keys while something is wrong. */
export interface KeySetHealth {
  state: 'ok' | 'degraded' | 'unavailable';
  signing_key: string | null;
  keys: number;
  /** Each file (or the directory) that could not be used at the last read, and since when. */
  problems: Array<KeyProblem & { since: string }>;
}

/** Clock skew allowance added to how long retired keys stay published. */
const RETIREMENT_SLACK_MS = 60_000;
/** Change events come in bursts (a rename is two); one read after the burst is enough. */
const WATCH_DEBOUNCE_MS = 100;
/** Kids remembered as withdrawn, for the rejection reason only (keys are few; this bounds a very long life). */
const MAX_WITHDRAWN = 1_000;

/**
 * Signing keys in a directory that several instances may share. Which key signs and which are published
 * is derived from the files and the clock alone, so instances agree without talking to each other.
 *
 * A read is authoritative for the files it lists: a key whose file is gone is withdrawn at once (the answer
 * to a leaked key). A read that fails as a whole (directory missing or unreadable, or not one key file left)
 * is an outage, not a withdrawal: the last good keys stay in use. A file that is broken keeps the key it held
 * at its last good read, and a new broken file is ignored; both are reported until they are fixed.
 */
export class KeyStore {
  private keys: StoredKey[] = [];
  private files = new Map<string, ReadKey>();
  private problems: Array<KeyProblem & { since: number }> = [];
  private readonly withdrawn = new Set<string>();
  private reading: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private watcher: { fs: FSWatcher; ino: number } | undefined;
  private debounce: NodeJS.Timeout | undefined;
  /** Set while reloading: what a change event in the directory triggers. */
  private onChange: (() => void) | undefined;
  private retryAfterSec = 5;
  private readonly now: () => number;
  /** Bumped whenever the set of keys changes: caches of verified tokens re-check their key on a change. */
  version = 0;

  constructor(private readonly options: KeyStoreOptions) {
    this.now = options.now ?? Date.now;
  }

  get dir(): string {
    return this.options.dir;
  }

  /** Reads the directory (one read at a time) and returns the problems found; never re-creates the directory. */
  load(): Promise<readonly KeyProblem[]> {
    const next = this.reading.then(() => this.read());
    this.reading = next.catch(() => undefined);
    return next;
  }

  /**
   * Re-reads the directory when it changes (fs.watch: within a fraction of a second on a local file system)
   * and every `intervalMs` (shared volumes such as NFS send no change events). `report` hears the problems
   * each time they change, and an empty list when they are gone.
   */
  startReloading(intervalMs: number, report: (problems: readonly KeyProblem[]) => void): void {
    this.retryAfterSec = Math.max(1, Math.ceil(intervalMs / 1000));
    let last = this.problems.map(problemLine).join('\n');
    const reload = () =>
      this.load().then(
        () => {
          const now = this.problems.map(problemLine).join('\n');
          if (now !== last) report(this.problems.map(({ file, problem }) => ({ file, problem })));
          last = now;
        },
        (err: unknown) => report([{ file: this.options.dir, problem: `reading failed: ${String(err)}` }]),
      );
    this.timer = setInterval(reload, intervalMs);
    this.timer.unref();
    this.onChange = () => {
      if (this.debounce) return;
      this.debounce = setTimeout(() => {
        this.debounce = undefined;
        void reload();
      }, WATCH_DEBOUNCE_MS);
      this.debounce.unref();
    };
    void this.watchDirectory();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
    this.onChange = undefined;
    this.watcher?.fs.close();
    this.watcher = undefined;
  }

  private async read(): Promise<readonly KeyProblem[]> {
    const dir = this.options.dir;
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
    } catch (err) {
      // Before the first key exists a missing directory is normal: `generate` creates it.
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      if (code === 'ENOENT' && this.files.size === 0) return this.settle(new Map(), []);
      const kept = this.files.size > 0 ? '; the last good keys stay in use' : '';
      return this.settle(this.files, [{ file: dir, problem: `the key directory cannot be read (${code})${kept}` }]);
    }
    if (names.length === 0 && this.files.size > 0) {
      return this.settle(this.files, [{ file: dir, problem: 'no key file left: treated as an outage, the last good keys stay in use (to withdraw a key, delete its file once another key signs)' }]);
    }
    const files = new Map<string, ReadKey>();
    const problems: KeyProblem[] = [];
    for (const name of names) {
      const path = join(dir, name);
      const last = this.files.get(name);
      try {
        files.set(name, await readKeyFile(path, last));
      } catch (err) {
        problems.push({ file: path, problem: (err as Error).message });
        if (last) files.set(name, last);
      }
    }
    void this.watchDirectory();
    return this.settle(files, problems);
  }

  private settle(files: Map<string, ReadKey>, problems: KeyProblem[]): readonly KeyProblem[] {
    const loaded = [...files.values()].map((f) => f.key).sort(bySigningOrder);
    const kept = new Set(loaded.map((k) => k.kid));
    for (const key of this.keys) if (!kept.has(key.kid)) this.withdrawn.add(key.kid);
    for (const kid of kept) this.withdrawn.delete(kid);
    for (const kid of this.withdrawn) if (this.withdrawn.size > MAX_WITHDRAWN) this.withdrawn.delete(kid);
    if (loaded.map((k) => k.kid).join() !== this.keys.map((k) => k.kid).join()) this.version++;
    this.keys = loaded;
    this.files = files;
    const now = this.now();
    this.problems = problems.map((p) => ({ ...p, since: this.problems.find((q) => problemLine(q) === problemLine(p))?.since ?? now }));
    return problems;
  }

  /** Watches the directory while reloading; again after a remount (a new inode), since a watch follows the inode. */
  private async watchDirectory(): Promise<void> {
    if (!this.onChange) return;
    let ino: number;
    try {
      ino = (await stat(this.options.dir)).ino;
    } catch {
      return; // gone: the interval notices it coming back
    }
    if (this.watcher?.ino === ino || !this.onChange) return;
    this.watcher?.fs.close();
    try {
      const fs = watch(this.options.dir, { persistent: false }, () => this.onChange?.());
      fs.on('error', () => {
        fs.close();
        if (this.watcher?.fs === fs) this.watcher = undefined;
      });
      this.watcher = { fs, ino };
    } catch {
      this.watcher = undefined; // no change events here: the interval alone
    }
  }

  /** True when `kid` was in the key set and its file has since been removed. */
  isWithdrawn(kid: string): boolean {
    return this.withdrawn.has(kid);
  }

  health(): KeySetHealth {
    const signing = this.signingKey();
    return {
      state: !signing ? 'unavailable' : this.problems.length > 0 ? 'degraded' : 'ok',
      signing_key: signing?.kid ?? null,
      keys: this.keys.length,
      problems: this.problems.map((p) => ({ file: p.file, problem: p.problem, since: new Date(p.since).toISOString() })),
    };
  }

  /** The key that signs now, or 503 `temporarily_unavailable`: a missing key is our outage, never the caller's fault. */
  requireSigningKey(): StoredKey {
    const key = this.signingKey();
    if (key) return key;
    throw new OAuthError('temporarily_unavailable', 'no signing key is available, retry later', {
      retryAfter: this.retryAfterSec,
      cause: new Error(`no active key in ${this.options.dir}`),
    });
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
      private_jwk: { ...privateJwk, kty: privateJwk.kty!, kid, alg, use: 'sig' },
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

  /** The public JWKS: pending, active, and retired keys until their last token has expired, then `publishAlso`. */
  publicJwks(): { keys: JWK[] } {
    const own = this.status().filter((s) => s.published).map((s) => this.keys.find((k) => k.kid === s.kid)!.publicJwk);
    return { keys: [...own, ...this.publishedAlso.map((k) => k.publicJwk)] };
  }

  get publishedAlso(): readonly PublishedAirflowKey[] {
    return this.options.publishAlso ?? [];
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

const problemLine = (p: KeyProblem) => `${p.file}: ${p.problem}`;
