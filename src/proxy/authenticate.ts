import { decodeProtectedHeader } from 'jose';
import { LRUCache } from 'lru-cache';
import type { KeyStore } from '../keys/key-store.js';
import type { AccessTokenClaims } from '../tokens/access-token.js';
import { hasAudience, InvalidTokenError, type AccessTokenVerifier } from '../tokens/access-token-verifier.js';

/**
 * A token the proxy verified, with what depends only on the token computed once and shared by every request that
 * presents it (the cache holds this object). Revocation, expiry and the deployment are still checked per request.
 */
export interface VerifiedToken {
  readonly claims: AccessTokenClaims;
  /** `scope` split into its roles; frozen, since every request with this token reads this one list. */
  readonly roles: readonly string[];
}

/** A verified token: its key is checked again whenever the key set changed (a cheap version compare otherwise). */
interface CachedToken {
  token: VerifiedToken;
  kid: string;
  keysVersion: number;
}

/** RFC 6750 §2.1 syntax; the verifier then allows only the strict compact JWS (no `=` padding): ERR_NOT_COMPACT. */
const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i;
const BEARER_PREFIX = 'Bearer ';
const isBearerPrefix = (authorization: string) =>
  authorization.length > BEARER_PREFIX.length && authorization.charCodeAt(6) === 0x20 && authorization.slice(0, 6).toLowerCase() === 'bearer';

/**
 * Stage 1: who is calling. Verifies our access token (signature and claims cached, bounded), checks it was
 * issued for this deployment, and checks revocation by `jti` on every request, never by the token's bytes.
 * A cached token never outlives its key: once the key is withdrawn it is refused with `ERR_KEY_WITHDRAWN`.
 */
export class ProxyAuthenticator {
  private readonly cache: LRUCache<string, CachedToken>;

  constructor(
    private readonly verifier: AccessTokenVerifier,
    options: { keys: Pick<KeyStore, 'version' | 'publicKey'>; cacheSize: number; now: () => number },
  ) {
    this.keys = options.keys;
    // The verifier's own leeway: a cached token expires exactly when verifying it again would refuse it.
    this.leewaySec = verifier.clockToleranceSec;
    this.now = options.now;
    this.cache = new LRUCache({ max: options.cacheSize });
  }

  private readonly keys: Pick<KeyStore, 'version' | 'publicKey'>;
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
    const nowSec = this.now() / 1000;
    if (cached && cached.token.claims.exp + this.leewaySec <= nowSec) {
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
      cached = { token: { claims, roles: Object.freeze(claims.scope.split(' ')) }, kid: decodeProtectedHeader(token).kid!, keysVersion };
      this.cache.set(token, cached);
    }
    const claims = cached.token.claims;
    // The verifier already refused an `aud` naming two of our deployments (ERR_AUD_OTHER_DEPLOYMENT).
    if (!hasAudience(claims, audience)) throw new InvalidTokenError('ERR_WRONG_DEPLOYMENT', undefined, claims);
    await this.verifier.assertNotRevoked(claims);
    return cached.token;
  }

  get cachedTokens(): number {
    return this.cache.size;
  }
}
