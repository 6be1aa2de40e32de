import { LRUCache } from 'lru-cache';
import type { AccessTokenClaims } from '../tokens/access-token.js';
import { audiences, InvalidTokenError, type AccessTokenVerifier } from '../tokens/access-token-verifier.js';

/** RFC 6750 §2.1 syntax; the verifier then allows only the strict compact JWS (no `=` padding): ERR_NOT_COMPACT. */
const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i;

/**
 * Stage 1: who is calling. Verifies our access token (signature and claims cached, bounded), checks it was
 * issued for this deployment, and checks revocation by `jti` on every request, never by the token's bytes.
 */
export class ProxyAuthenticator {
  private readonly cache: LRUCache<string, AccessTokenClaims>;

  constructor(
    private readonly verifier: AccessTokenVerifier,
    options: { cacheSize: number; leewaySec: number; now: () => number },
  ) {
    this.leewaySec = options.leewaySec;
    this.now = options.now;
    this.cache = new LRUCache({ max: options.cacheSize });
  }

  private readonly leewaySec: number;
  private readonly now: () => number;

  async authenticate(authorization: string | undefined, audience: string): Promise<AccessTokenClaims> {
    if (authorization === undefined) throw new InvalidTokenError('ERR_NO_TOKEN');
    const match = BEARER.exec(authorization);
    if (!match) throw new InvalidTokenError('ERR_NOT_BEARER');
    const token = match[1]!;
    let claims = this.cache.get(token);
    const nowSec = this.now() / 1000;
    if (claims && claims.exp + this.leewaySec <= nowSec) {
      this.cache.delete(token);
      claims = undefined;
    }
    if (!claims) {
      claims = await this.verifier.verifyWithoutRevocation(token);
      this.cache.set(token, claims);
    }
    // The verifier already refused an `aud` naming two of our deployments (ERR_AUD_OTHER_DEPLOYMENT).
    if (!audiences(claims).includes(audience)) throw new InvalidTokenError('ERR_WRONG_DEPLOYMENT');
    await this.verifier.assertNotRevoked(claims);
    return claims;
  }

  get cachedTokens(): number {
    return this.cache.size;
  }
}
