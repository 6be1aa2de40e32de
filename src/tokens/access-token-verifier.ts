import { errors, jwtVerify, type JWTHeaderParameters } from 'jose';
import { OAuthError } from '../errors/oauth-error.js';
import type { KeyStore } from '../keys/key-store.js';
import { ACCESS_TOKEN_ALGORITHMS, ACCESS_TOKEN_TYPE, type AccessTokenClaims } from './access-token.js';
import type { RevocationStore } from './revocation-store.js';

export interface VerifierOptions {
  issuer: string;
  /** Audiences accepted (all deployments for introspection, one for a proxy route). */
  audiences: readonly string[];
  maxTtlMs: number;
  clockToleranceSec?: number;
  now?: () => number;
}

/** A token that failed verification; `reason` is for logs and audit, never for the wire. */
export class InvalidTokenError extends OAuthError {
  constructor(readonly reason: string, cause?: unknown) {
    const missing = reason === 'ERR_NO_TOKEN';
    super('invalid_token', missing ? 'an access token is required' : 'the access token is invalid, expired or revoked', { cause, bareChallenge: missing });
  }
}

/**
 * Verifies our own access tokens: only our issuer and keys, exact `iss`, an accepted `aud`, `typ` at+jwt,
 * allowed algorithms, required claims, bounded lifetime, and a revocation check by `jti`.
 */
export class AccessTokenVerifier {
  private readonly now: () => number;

  constructor(
    private readonly keys: KeyStore,
    private readonly revocations: RevocationStore,
    private readonly options: VerifierOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Signature and claims, then revocation by `jti`. */
  async verify(token: string): Promise<AccessTokenClaims> {
    const claims = await this.verifyWithoutRevocation(token);
    await this.assertNotRevoked(claims);
    return claims;
  }

  /**
   * For endpoints where an invalid token is an ordinary answer (RFC 7009, RFC 7662): the claims, or `undefined`
   * when the token is invalid, expired or revoked. A store or key outage still throws: it says nothing about the token.
   */
  async verifyIfValid(token: string): Promise<AccessTokenClaims | undefined> {
    try {
      return await this.verify(token);
    } catch (err) {
      if (err instanceof InvalidTokenError) return undefined;
      throw err;
    }
  }

  async assertNotRevoked(claims: AccessTokenClaims): Promise<void> {
    if (await this.revocations.isRevoked(claims)) throw new InvalidTokenError('ERR_REVOKED');
  }

  /** Signature and claims only: what a cache may keep. Revocation must still be checked on every use. */
  async verifyWithoutRevocation(token: string): Promise<AccessTokenClaims> {
    let claims: AccessTokenClaims;
    try {
      const result = await jwtVerify(token, (header: JWTHeaderParameters) => this.keyFor(header), {
        issuer: this.options.issuer,
        audience: [...this.options.audiences],
        typ: ACCESS_TOKEN_TYPE,
        algorithms: ACCESS_TOKEN_ALGORITHMS,
        requiredClaims: ['exp', 'iat', 'nbf', 'jti', 'sub', 'client_id', 'scope'],
        clockTolerance: this.options.clockToleranceSec ?? 30,
        currentDate: new Date(this.now()),
      });
      claims = result.payload as unknown as AccessTokenClaims;
    } catch (err) {
      throw new InvalidTokenError(err instanceof errors.JOSEError ? err.code : 'malformed', err);
    }
    if (typeof claims.jti !== 'string' || typeof claims.client_id !== 'string' || typeof claims.scope !== 'string') {
      throw new InvalidTokenError('ERR_CLAIM_TYPE');
    }
    if ((claims.exp - claims.iat) * 1000 > this.options.maxTtlMs) throw new InvalidTokenError('ERR_LIFETIME_TOO_LONG');
    return claims;
  }

  private keyFor(header: JWTHeaderParameters) {
    const key = header.kid === undefined ? undefined : this.keys.publicKey(header.kid);
    if (!key || key.alg !== header.alg) throw new errors.JWKSNoMatchingKey();
    return key.publicKey;
  }
}
