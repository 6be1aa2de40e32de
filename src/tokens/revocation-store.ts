import { OAuthError } from '../errors/oauth-error.js';

/**
 * Where revocations live until the tokens they hit would have expired anyway, and the issuance blocks placed
 * with them. A port: the embedded SQLite store serves one instance (or several sharing a volume); a Redis store
 * can back a fleet. Every method rejects (with a 503 `OAuthError`) when the store cannot answer: a write that
 * did not happen must never be reported as done, and a read that failed never as "not revoked".
 *
 * @example A leaked service account, as `POST /admin/revocations {"client_id": "svc-etl"}` handles it:
 * ```ts
 * await store.block({ kind: 'client_id', value: 'svc-etl', sinceMs: now, by: 'alice' }); // no new tokens
 * await store.revokeAllOf('client_id', 'svc-etl', Math.floor(now / 1000), now + maxTtlMs + 60_000); // nor old ones
 * await store.blockOn({ sub: 'svc-etl', client_id: 'svc-etl' }); // -> the block: TokenService refuses to issue
 * await store.lift('client_id', 'svc-etl'); // -> true: new tokens again; the tokens revoked above stay revoked
 * ```
 */
export interface RevocationStore {
  /** Revokes one token by `jti`; the entry may be forgotten after `expiresAtMs`. Idempotent. */
  revoke(jti: string, expiresAtMs: number): Promise<void>;
  /**
   * Revokes every token of a subject or a client issued at or before `issuedBeforeSec` (a leaked service
   * account: all its tokens at once). Kept until `keepUntilMs`, when all such tokens have expired.
   */
  revokeAllOf(kind: PrincipalKind, value: string, issuedBeforeSec: number, keepUntilMs: number): Promise<void>;
  isRevoked(token: RevocableToken): Promise<boolean>;
  /** Refuses new tokens for a subject or a client until lifted; never expires. Placing it again keeps the first. */
  block(block: IssuanceBlock): Promise<void>;
  /** Lifts a block (tokens revoked along with it stay revoked); resolves to whether there was one. */
  lift(kind: PrincipalKind, value: string): Promise<boolean>;
  /** The block that refuses new tokens to this subject or client, if any (the subject's first). */
  blockOn(principal: Pick<RevocableToken, 'sub' | 'client_id'>): Promise<IssuanceBlock | undefined>;
  /** Every block in force, oldest first. */
  blocks(): Promise<IssuanceBlock[]>;
  close(): void;
}

export type PrincipalKind = 'sub' | 'client_id';

/**
 * Runs one store operation; any failure of the store (Redis down or refusing writes, SQLite locked or its disk
 * full) becomes the one 503 answer, so nothing is taken as stored, as revoked or as "not revoked".
 */
export async function storeOperation<T>(operation: () => T | Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (err) {
    throw new OAuthError('temporarily_unavailable', 'the revocation store is unavailable, retry later', { retryAfter: 2, cause: err });
  }
}

/** A subject or client refused new tokens, e.g. `{ kind: 'client_id', value: 'svc-etl', sinceMs, by: 'alice' }`. */
export interface IssuanceBlock {
  kind: PrincipalKind;
  value: string;
  /** When it was placed (ms since the epoch). */
  sinceMs: number;
  /** The `sub` of the admin who placed it. */
  by: string;
}

/** The claims revocation looks at. */
export interface RevocableToken {
  jti: string;
  sub: string;
  client_id: string;
  iat: number;
}

/** For tests and throwaway runs: forgets everything on restart. */
export class MemoryRevocationStore implements RevocationStore {
  private readonly tokens = new Map<string, number>();
  private readonly principals = new Map<string, { before: number; keepUntil: number }>();
  private readonly blocked = new Map<string, IssuanceBlock>();

  constructor(private readonly now: () => number = Date.now) {}

  async revoke(jti: string, expiresAtMs: number): Promise<void> {
    this.tokens.set(jti, Math.max(expiresAtMs, this.tokens.get(jti) ?? 0));
    this.purge();
  }

  async revokeAllOf(kind: PrincipalKind, value: string, issuedBeforeSec: number, keepUntilMs: number): Promise<void> {
    const key = `${kind}\u0000${value}`;
    const old = this.principals.get(key);
    this.principals.set(key, { before: Math.max(issuedBeforeSec, old?.before ?? 0), keepUntil: Math.max(keepUntilMs, old?.keepUntil ?? 0) });
    this.purge();
  }

  async isRevoked(token: RevocableToken): Promise<boolean> {
    if (this.tokens.has(token.jti)) return true;
    for (const [kind, value] of [['sub', token.sub], ['client_id', token.client_id]] as const) {
      const rule = this.principals.get(`${kind}\u0000${value}`);
      if (rule && token.iat <= rule.before) return true;
    }
    return false;
  }

  async block(block: IssuanceBlock): Promise<void> {
    const key = `${block.kind}\u0000${block.value}`;
    if (!this.blocked.has(key)) this.blocked.set(key, { ...block });
  }

  async lift(kind: PrincipalKind, value: string): Promise<boolean> {
    return this.blocked.delete(`${kind}\u0000${value}`);
  }

  async blockOn(principal: Pick<RevocableToken, 'sub' | 'client_id'>): Promise<IssuanceBlock | undefined> {
    return this.blocked.get(`sub\u0000${principal.sub}`) ?? this.blocked.get(`client_id\u0000${principal.client_id}`);
  }

  async blocks(): Promise<IssuanceBlock[]> {
    return [...this.blocked.values()].sort((a, b) => a.sinceMs - b.sinceMs);
  }

  private purge(): void {
    const now = this.now();
    for (const [id, exp] of this.tokens) if (exp < now) this.tokens.delete(id);
    for (const [key, rule] of this.principals) if (rule.keepUntil < now) this.principals.delete(key);
  }

  close(): void {}
}
