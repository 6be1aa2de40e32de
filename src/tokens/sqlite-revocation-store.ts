import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { storeOperation, type IssuanceBlock, type PrincipalKind, type RevocableToken, type RevocationStore } from './revocation-store.js';

/** Revocations persisted in an embedded SQLite file, so they survive a restart. */
export class SqliteRevocationStore implements RevocationStore {
  private readonly db: DatabaseSync;
  private readonly insertToken: StatementSync;
  private readonly insertPrincipal: StatementSync;
  private readonly lookup: StatementSync;
  private readonly purgeTokens: StatementSync;
  private readonly purgePrincipals: StatementSync;
  private readonly insertBlock: StatementSync;
  private readonly deleteBlock: StatementSync;
  private readonly lookupBlock: StatementSync;
  private readonly listBlocks: StatementSync;
  private readonly timer: NodeJS.Timeout;

  constructor(
    file: string,
    private readonly now: () => number = Date.now,
  ) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    this.db = new DatabaseSync(file);
    // WAL + busy timeout: several instances on one volume read while one writes. The timeout comes first:
    // workers starting together would otherwise fail on the lock that switching to WAL takes.
    this.db.exec('PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL;');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS revoked_tokens (jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) STRICT;
      CREATE TABLE IF NOT EXISTS revoked_principals (
        kind TEXT NOT NULL, value TEXT NOT NULL, issued_before INTEGER NOT NULL, keep_until INTEGER NOT NULL,
        PRIMARY KEY (kind, value)) STRICT;
      CREATE TABLE IF NOT EXISTS issuance_blocks (
        kind TEXT NOT NULL, value TEXT NOT NULL, since INTEGER NOT NULL, placed_by TEXT NOT NULL,
        PRIMARY KEY (kind, value)) STRICT;`);
    this.insertToken = this.db.prepare(
      'INSERT INTO revoked_tokens (jti, expires_at) VALUES (?, ?) ON CONFLICT(jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)',
    );
    this.insertPrincipal = this.db.prepare(
      `INSERT INTO revoked_principals (kind, value, issued_before, keep_until) VALUES (?, ?, ?, ?)
       ON CONFLICT(kind, value) DO UPDATE SET issued_before = max(issued_before, excluded.issued_before),
         keep_until = max(keep_until, excluded.keep_until)`,
    );
    // One query per check: by jti, or a subject/client rule that covers the token's issue time.
    this.lookup = this.db.prepare(
      `SELECT 1 FROM revoked_tokens WHERE jti = ?
       UNION ALL SELECT 1 FROM revoked_principals WHERE kind = 'sub' AND value = ? AND issued_before >= ?
       UNION ALL SELECT 1 FROM revoked_principals WHERE kind = 'client_id' AND value = ? AND issued_before >= ?
       LIMIT 1`,
    );
    this.insertBlock = this.db.prepare('INSERT INTO issuance_blocks (kind, value, since, placed_by) VALUES (?, ?, ?, ?) ON CONFLICT(kind, value) DO NOTHING');
    this.deleteBlock = this.db.prepare('DELETE FROM issuance_blocks WHERE kind = ? AND value = ?');
    this.lookupBlock = this.db.prepare(
      `SELECT kind, value, since, placed_by FROM issuance_blocks WHERE (kind = 'sub' AND value = ?) OR (kind = 'client_id' AND value = ?)
       ORDER BY kind DESC LIMIT 1`,
    );
    this.listBlocks = this.db.prepare('SELECT kind, value, since, placed_by FROM issuance_blocks ORDER BY since, kind, value');
    this.purgeTokens = this.db.prepare('DELETE FROM revoked_tokens WHERE expires_at < ?');
    this.purgePrincipals = this.db.prepare('DELETE FROM revoked_principals WHERE keep_until < ?');
    this.timer = setInterval(() => {
      this.purgeTokens.run(this.now());
      this.purgePrincipals.run(this.now());
    }, 60_000);
    this.timer.unref();
  }

  async revoke(jti: string, expiresAtMs: number): Promise<void> {
    await storeOperation(() => this.insertToken.run(jti, Math.ceil(expiresAtMs)));
  }

  async revokeAllOf(kind: PrincipalKind, value: string, issuedBeforeSec: number, keepUntilMs: number): Promise<void> {
    await storeOperation(() => this.insertPrincipal.run(kind, value, Math.floor(issuedBeforeSec), Math.ceil(keepUntilMs)));
  }

  isRevoked(t: RevocableToken): Promise<boolean> {
    return storeOperation(() => this.lookup.get(t.jti, t.sub, t.iat, t.client_id, t.iat) !== undefined);
  }

  async block(b: IssuanceBlock): Promise<void> {
    await storeOperation(() => this.insertBlock.run(b.kind, b.value, Math.floor(b.sinceMs), b.by));
  }

  lift(kind: PrincipalKind, value: string): Promise<boolean> {
    return storeOperation(() => Number(this.deleteBlock.run(kind, value).changes) > 0);
  }

  blockOn(principal: Pick<RevocableToken, 'sub' | 'client_id'>): Promise<IssuanceBlock | undefined> {
    return storeOperation(() => {
      const row = this.lookupBlock.get(principal.sub, principal.client_id);
      return row ? toBlock(row) : undefined;
    });
  }

  blocks(): Promise<IssuanceBlock[]> {
    return storeOperation(() => this.listBlocks.all().map(toBlock));
  }

  close(): void {
    clearInterval(this.timer);
    this.db.close();
  }
}

function toBlock(row: Record<string, unknown>): IssuanceBlock {
  return { kind: row.kind as PrincipalKind, value: String(row.value), sinceMs: Number(row.since), by: String(row.placed_by) };
}
