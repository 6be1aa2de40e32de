import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { RevocationStore } from './revocation-store.js';

/** Revocations persisted in an embedded SQLite file, so they survive a restart. */
export class SqliteRevocationStore implements RevocationStore {
  private readonly db: DatabaseSync;
  private readonly insert: StatementSync;
  private readonly lookup: StatementSync;
  private readonly purge: StatementSync;
  private readonly timer: NodeJS.Timeout;

  constructor(
    file: string,
    private readonly now: () => number = Date.now,
  ) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    this.db = new DatabaseSync(file);
    // WAL + busy timeout: several instances on one volume read while one writes.
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000;');
    this.db.exec('CREATE TABLE IF NOT EXISTS revoked_tokens (jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) STRICT');
    this.insert = this.db.prepare(
      'INSERT INTO revoked_tokens (jti, expires_at) VALUES (?, ?) ON CONFLICT(jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)',
    );
    this.lookup = this.db.prepare('SELECT 1 FROM revoked_tokens WHERE jti = ?');
    this.purge = this.db.prepare('DELETE FROM revoked_tokens WHERE expires_at < ?');
    this.timer = setInterval(() => this.purge.run(this.now()), 60_000);
    this.timer.unref();
  }

  async revoke(jti: string, expiresAtMs: number): Promise<void> {
    this.insert.run(jti, Math.ceil(expiresAtMs));
  }

  async isRevoked(jti: string): Promise<boolean> {
    return this.lookup.get(jti) !== undefined;
  }

  close(): void {
    clearInterval(this.timer);
    this.db.close();
  }
}
