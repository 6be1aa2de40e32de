import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { storeOperation, type ExpiringStore } from './expiring-store.js';
import { storeFull } from './store-full.js';

export interface SqliteExpiringStoreOptions {
  /** The database file (created mode 0600, its directory 0700), or `:memory:`. */
  file: string;
  /** Most live entries; a new key past it is refused (503), nothing live is evicted. */
  maxEntries: number;
  /** How long a write waits for another instance's lock before it is the 503 (default 5 s). */
  busyTimeoutMs?: number;
  /** What the 503 names (default `session`: "the session store is unavailable"). */
  what?: string;
  now?: () => number;
}

/**
 * Entries in an embedded SQLite file: they survive a restart, and instances on one volume share them (WAL, a
 * busy timeout). `take` is one `DELETE ... RETURNING`, so of two instances taking one key, one gets it. Expired
 * rows are invisible at once and purged every minute.
 */
export class SqliteExpiringStore implements ExpiringStore {
  private readonly db: DatabaseSync;
  private readonly upsert: StatementSync;
  private readonly lookup: StatementSync;
  private readonly remove: StatementSync;
  private readonly purge: StatementSync;
  private readonly timer: NodeJS.Timeout;
  private readonly what: string;
  private readonly now: () => number;

  constructor(private readonly options: SqliteExpiringStoreOptions) {
    this.what = options.what ?? 'session';
    this.now = options.now ?? Date.now;
    if (options.file !== ':memory:') {
      mkdirSync(dirname(options.file), { recursive: true, mode: 0o700 });
      // Sessions hold the tokens minted for them: owner only. SQLite gives its WAL file the same mode.
      closeSync(openSync(options.file, 'a', 0o600));
    }
    this.db = new DatabaseSync(options.file);
    // The busy timeout first: instances starting together would otherwise fail on the lock WAL mode takes.
    this.db.exec(`PRAGMA busy_timeout = ${Math.floor(options.busyTimeoutMs ?? 5_000)}; PRAGMA journal_mode = WAL;`);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS expiring_entries (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER NOT NULL) STRICT;
      CREATE INDEX IF NOT EXISTS expiring_entries_by_expiry ON expiring_entries (expires_at);`);
    // One statement, so the count and the insert are one write: instances racing for the last place get one.
    this.upsert = this.db.prepare(
      `INSERT INTO expiring_entries (key, value, expires_at)
         SELECT :key, :value, :expires_at
         WHERE EXISTS (SELECT 1 FROM expiring_entries WHERE key = :key AND expires_at > :now)
            OR (SELECT count(*) FROM expiring_entries WHERE expires_at > :now) < :max
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
    );
    this.lookup = this.db.prepare('SELECT value FROM expiring_entries WHERE key = ? AND expires_at > ?');
    this.remove = this.db.prepare('DELETE FROM expiring_entries WHERE key = ? RETURNING value, expires_at');
    this.purge = this.db.prepare('DELETE FROM expiring_entries WHERE expires_at <= ?');
    this.timer = setInterval(() => {
      try {
        this.purgeExpired();
      } catch {
        // locked by another instance this time: the next run (or that instance) purges
      }
    }, 60_000);
    this.timer.unref();
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    const now = this.now();
    const params = { key, value, expires_at: now + Math.max(1, Math.ceil(ttlMs)), now, max: this.options.maxEntries };
    const stored = await storeOperation(this.what, () => Number(this.upsert.run(params).changes) > 0);
    if (!stored) throw storeFull(this.what, this.options.maxEntries);
  }

  get(key: string): Promise<string | undefined> {
    return storeOperation(this.what, () => this.lookup.get(key, this.now())?.value as string | undefined);
  }

  take(key: string): Promise<string | undefined> {
    return storeOperation(this.what, () => {
      const row = this.remove.get(key);
      return row && Number(row.expires_at) > this.now() ? String(row.value) : undefined;
    });
  }

  async delete(key: string): Promise<void> {
    await storeOperation(this.what, () => this.remove.get(key));
  }

  /** Deletes the expired rows (every minute on its own). */
  purgeExpired(): void {
    this.purge.run(this.now());
  }

  close(): void {
    clearInterval(this.timer);
    this.db.close();
  }
}
