import { LRUCache } from 'lru-cache';
import type { IssuanceBlock, PrincipalKind, RevocableToken, RevocationStore } from './revocation-store.js';

/**
 * Remembers for a moment that a token was not revoked, so a token used many times a second costs one store
 * read per `ttlMs` instead of one per request. A revocation made through this instance clears the memory at
 * once; one made by another instance sharing the store is seen within `ttlMs`. Issuance blocks are not cached:
 * each is read from the store, so a block placed by any instance applies to the next token request.
 */
export class CachedRevocationStore implements RevocationStore {
  private readonly notRevoked: LRUCache<string, number>;

  constructor(
    private readonly inner: RevocationStore,
    private readonly ttlMs: number,
    max: number,
    private readonly now: () => number = Date.now,
  ) {
    this.notRevoked = new LRUCache({ max });
  }

  async isRevoked(token: RevocableToken): Promise<boolean> {
    const until = this.notRevoked.get(token.jti);
    if (until !== undefined && until > this.now()) return false;
    const revoked = await this.inner.isRevoked(token);
    if (!revoked) this.notRevoked.set(token.jti, this.now() + this.ttlMs);
    return revoked;
  }

  async revoke(jti: string, expiresAtMs: number): Promise<void> {
    await this.inner.revoke(jti, expiresAtMs);
    this.notRevoked.delete(jti);
  }

  async revokeAllOf(kind: PrincipalKind, value: string, issuedBeforeSec: number, keepUntilMs: number): Promise<void> {
    await this.inner.revokeAllOf(kind, value, issuedBeforeSec, keepUntilMs);
    this.notRevoked.clear();
  }

  block(block: IssuanceBlock): Promise<void> {
    return this.inner.block(block);
  }

  lift(kind: PrincipalKind, value: string): Promise<boolean> {
    return this.inner.lift(kind, value);
  }

  blockOn(principal: Pick<RevocableToken, 'sub' | 'client_id'>): Promise<IssuanceBlock | undefined> {
    return this.inner.blockOn(principal);
  }

  blocks(): Promise<IssuanceBlock[]> {
    return this.inner.blocks();
  }

  close(): void {
    this.inner.close();
  }
}
