import { LRUCache } from 'lru-cache';
import type { IssuanceBlock, PrincipalKind, RevocableToken, RevocationStore } from './revocation-store.js';

/**
 * "Not revoked" answers that a holder may keep until a deadline (the proxy's token entries hold them).
 *
 * @example How the proxy's authenticator keeps one per token:
 * ```ts
 * const version = answers.version; // read before asking: a revocation meanwhile voids the answer
 * const until = await answers.notRevokedUntil(claims); // undefined: revoked
 * // reuse while `Date.now() < until && answers.version === version`
 * ```
 */
export interface NotRevokedAnswers {
  /** When "not revoked" stops holding for this token (ms since the epoch), or `undefined` when it is revoked. */
  notRevokedUntil(token: RevocableToken): Promise<number | undefined>;
  /** Changes with every revocation made through this instance: an answer read under another version is void. */
  readonly version: number;
}

/**
 * Remembers for a moment that a token was not revoked, so a token used many times a second costs one store
 * read per `ttlMs` instead of one per request. A revocation made through this instance voids every answer at
 * once (`version`); one made by another instance sharing the store is seen within `ttlMs`. Issuance blocks are
 * not cached: each is read from the store, so a block placed by any instance applies to the next token request.
 */
export class CachedRevocationStore implements RevocationStore, NotRevokedAnswers {
  private readonly notRevoked: LRUCache<string, number>;
  #version = 0;

  constructor(
    private readonly inner: RevocationStore,
    private readonly ttlMs: number,
    max: number,
    private readonly now: () => number = Date.now,
  ) {
    this.notRevoked = new LRUCache({ max });
  }

  get version(): number {
    return this.#version;
  }

  async isRevoked(token: RevocableToken): Promise<boolean> {
    return (await this.notRevokedUntil(token)) === undefined;
  }

  async notRevokedUntil(token: RevocableToken): Promise<number | undefined> {
    const held = this.notRevoked.get(token.jti);
    if (held !== undefined && held > this.now()) return held;
    const version = this.#version;
    if (await this.inner.isRevoked(token)) return undefined;
    const until = this.now() + this.ttlMs;
    // A revocation through this instance while the store was read: the answer may predate it, so it is not kept.
    if (version === this.#version) this.notRevoked.set(token.jti, until);
    return until;
  }

  async revoke(jti: string, expiresAtMs: number): Promise<void> {
    await this.inner.revoke(jti, expiresAtMs);
    this.notRevoked.delete(jti);
    this.#version++;
  }

  async revokeAllOf(kind: PrincipalKind, value: string, issuedBeforeSec: number, keepUntilMs: number): Promise<void> {
    await this.inner.revokeAllOf(kind, value, issuedBeforeSec, keepUntilMs);
    this.notRevoked.clear();
    this.#version++;
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
