/**
 * Where revoked token ids live until the tokens would have expired anyway. A port: the embedded SQLite store
 * serves one instance (or several sharing a volume); a Redis store can back a fleet.
 */
export interface RevocationStore {
  /** Revokes `jti`; the entry may be forgotten after `expiresAtMs`. Idempotent. */
  revoke(jti: string, expiresAtMs: number): Promise<void>;
  isRevoked(jti: string): Promise<boolean>;
  close(): void;
}

/** For tests and throwaway runs: forgets everything on restart. */
export class MemoryRevocationStore implements RevocationStore {
  private readonly revoked = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  async revoke(jti: string, expiresAtMs: number): Promise<void> {
    this.revoked.set(jti, Math.max(expiresAtMs, this.revoked.get(jti) ?? 0));
    for (const [id, exp] of this.revoked) if (exp < this.now()) this.revoked.delete(id);
  }

  async isRevoked(jti: string): Promise<boolean> {
    return this.revoked.has(jti);
  }

  close(): void {}
}
