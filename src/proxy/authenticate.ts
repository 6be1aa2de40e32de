import { decodeProtectedHeader } from 'jose';
import { LRUCache } from 'lru-cache';
import type { KeyStore } from '../keys/key-store.js';
import type { CompiledPrincipal } from '../policy/evaluator.js';
import type { AccessTokenClaims } from '../tokens/access-token.js';
import type { NotRevokedAnswers } from '../tokens/cached-revocation-store.js';
import { hasAudience, InvalidTokenError, type AccessTokenVerifier } from '../tokens/access-token-verifier.js';

/**
 * A token the proxy verified: the one entry of the token cache that every request presenting the token shares.
 * It holds what depends only on the token (claims, roles) and the token's compiled principal for one policy
 * version and deployment at a time. Expiry, the key, revocation and the deployment are still checked per request.
 */
export interface VerifiedToken {
  readonly claims: AccessTokenClaims;
  /** `scope` split into its roles; frozen, since every request with this token reads this one list. */
  readonly roles: readonly string[];
  /**
   * The authorize stage's principal for this token (`principalOf`): reused only under the policy version and for
   * the deployment it was compiled for (it names both), replaced otherwise. Never read it directly.
   */
  principal?: CompiledPrincipal;
}

/**
 * The cache's entry: the verified token, its key (checked again whenever the key set changed: a cheap version
 * compare otherwise) and until when "not revoked" holds for it (under one version of this instance's revocations).
 */
interface CachedToken {
  token: VerifiedToken;
  kid: string;
  keysVersion: number;
  notRevokedUntil: number;
  revocationsVersion: number;
}

/** RFC 6750 §2.1 syntax; the verifier then allows only the strict compact JWS (no `=` padding): ERR_NOT_COMPACT. */
const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i;
const BEARER_PREFIX = 'Bearer ';
const isBearerPrefix = (authorization: string) =>
  authorization.length > BEARER_PREFIX.length && authorization.charCodeAt(6) === 0x20 && authorization.slice(0, 6).toLowerCase() === 'bearer';

/**
 * Stage 1: who is calling. Verifies our access token (signature and claims cached, bounded), checks it was
 * issued for this deployment, and checks revocation by `jti`, never by the token's bytes: every request compares
 * the entry's "not revoked" deadline, and the store is read again once it passed or this instance revoked anything.
 * A cached token never outlives its key: once the key is withdrawn it is refused with `ERR_KEY_WITHDRAWN`.
 */
export class ProxyAuthenticator {
  private readonly cache: LRUCache<string, CachedToken>;

  constructor(
    private readonly verifier: AccessTokenVerifier,
    options: {
      keys: Pick<KeyStore, 'version' | 'publicKey'>;
      cacheSize: number;
      now: () => number;
      /** Reusable "not revoked" answers (the broker's `CachedRevocationStore`); without, the store is read per request. */
      revocations?: NotRevokedAnswers;
    },
  ) {
    this.keys = options.keys;
    this.revocations = options.revocations ?? { version: 0, notRevokedUntil: (claims) => verifier.assertNotRevoked(claims).then(() => 0) };
    // The verifier's own leeway: a cached token expires exactly when verifying it again would refuse it.
    this.leewaySec = verifier.clockToleranceSec;
    this.now = options.now;
    this.cache = new LRUCache({ max: options.cacheSize });
  }

  private readonly keys: Pick<KeyStore, 'version' | 'publicKey'>;
  private readonly revocations: NotRevokedAnswers;
  private readonly leewaySec: number;
  private readonly now: () => number;

  /** The verified claims (see {@link verifiedToken}). */
  async authenticate(authorization: string | undefined, audience: string): Promise<AccessTokenClaims> {
    return (await this.verifiedToken(authorization, audience)).claims;
  }

  /** The caller's token, verified, for `audience`: the cached `VerifiedToken` itself while the token is cached. */
  async verifiedToken(authorization: string | undefined, audience: string): Promise<VerifiedToken> {
    if (authorization === undefined) throw new InvalidTokenError('ERR_NO_TOKEN');
    // A cached token passed BEARER when it was cached: `Bearer ` (any case) followed by exactly it needs no regex.
    let token = isBearerPrefix(authorization) ? authorization.slice(BEARER_PREFIX.length) : '';
    let cached = this.cache.get(token);
    if (!cached) {
      const match = BEARER.exec(authorization);
      if (!match) throw new InvalidTokenError('ERR_NOT_BEARER');
      token = match[1]!;
    }
    const nowMs = this.now();
    if (cached && cached.token.claims.exp + this.leewaySec <= nowMs / 1000) {
      this.cache.delete(token);
      cached = undefined;
    }
    if (cached && cached.keysVersion !== this.keys.version) {
      if (!this.keys.publicKey(cached.kid)) {
        this.cache.delete(token);
        throw new InvalidTokenError('ERR_KEY_WITHDRAWN', undefined, cached.token.claims);
      }
      cached.keysVersion = this.keys.version;
    }
    if (!cached) {
      const keysVersion = this.keys.version; // read before verifying: a reload meanwhile is re-checked on the next use
      const claims = await this.verifier.verifyWithoutRevocation(token);
      const verified = { claims, roles: Object.freeze(claims.scope.split(' ')) };
      cached = { token: verified, kid: decodeProtectedHeader(token).kid!, keysVersion, notRevokedUntil: 0, revocationsVersion: 0 };
      this.cache.set(token, cached);
    }
    const claims = cached.token.claims;
    // The verifier already refused an `aud` naming two of our deployments (ERR_AUD_OTHER_DEPLOYMENT).
    if (!hasAudience(claims, audience)) throw new InvalidTokenError('ERR_WRONG_DEPLOYMENT', undefined, claims);
    if (!(cached.notRevokedUntil > nowMs && cached.revocationsVersion === this.revocations.version)) await this.checkNotRevoked(cached);
    return cached.token;
  }

  /** Reads revocation for the entry and keeps the answer's deadline; a revocation while reading voids it. */
  private async checkNotRevoked(cached: CachedToken): Promise<void> {
    const version = this.revocations.version;
    const until = await this.revocations.notRevokedUntil(cached.token.claims);
    if (until === undefined) throw new InvalidTokenError('ERR_REVOKED', undefined, cached.token.claims);
    cached.notRevokedUntil = until;
    cached.revocationsVersion = version;
  }

  get cachedTokens(): number {
    return this.cache.size;
  }
}
