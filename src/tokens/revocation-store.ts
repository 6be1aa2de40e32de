/**
 * Where revocations live until the tokens they hit would have expired anyway. A port: the embedded SQLite store
 * serves one instance (or several sharing a volume); a Redis store can back a fleet.
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
  close(): void;
}

export type PrincipalKind = 'sub' | 'client_id';

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

  private purge(): void {
    const now = this.now();
    for (const [id, exp] of this.tokens) if (exp < now) this.tokens.delete(id);
    for (const [key, rule] of this.principals) if (rule.keepUntil < now) this.principals.delete(key);
  }

  close(): void {}
}
