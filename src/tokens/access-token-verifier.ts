import { errors, jwtVerify, type JWTHeaderParameters } from 'jose';
import { OAuthError } from '../errors/oauth-error.js';
import type { KeyStore } from '../keys/key-store.js';
import { parseCompactJws } from './compact-jws.js';
import { ACCESS_TOKEN_ALGORITHMS, ACCESS_TOKEN_TYPE, type AccessTokenClaims } from './access-token.js';
import type { RevocableToken, RevocationStore } from './revocation-store.js';
import { tokenRejection, type TokenRejection } from './token-rejection.js';

export interface VerifierOptions {
  issuer: string;
  /** Audiences accepted (all deployments for introspection, one for a proxy route). */
  audiences: readonly string[];
  maxTtlMs: number;
  /** Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds (`proxy.leeway`); the proxy's cache applies the same. */
  clockToleranceSec: number;
  now?: () => number;
}

/** Who a refused token was for, known only once its signature verified (never read from an unverified token). */
export interface RefusedTokenIdentity {
  sub: string | undefined;
  client_id: string | undefined;
}

/**
 * A token that failed verification. `reason` (an `ERR_*` or jose code) and `rejection` (the closed vocabulary
 * it maps to) are for logs and audit, never for the wire. The caller reads one of three answers: no token, an
 * expired token (only ever said of a token whose signature verified: jose checks `exp` after the signature, the
 * proxy's cache holds verified tokens only), and "invalid or revoked" for every other refusal.
 */
export class InvalidTokenError extends OAuthError {
  readonly rejection: TokenRejection;
  /** Set when the signature verified: jose's claim errors carry the verified payload; callers pass the claims. */
  readonly identity: RefusedTokenIdentity | undefined;

  constructor(readonly reason: string, cause?: unknown, verified?: { sub?: unknown; client_id?: unknown }) {
    const missing = reason === 'ERR_NO_TOKEN';
    const rejection = tokenRejection(reason, cause);
    super('invalid_token', missing ? 'an access token is required' : rejection === 'expired' ? EXPIRED : INVALID, { cause, bareChallenge: missing });
    this.rejection = rejection;
    const payload = verified ?? (cause instanceof errors.JWTClaimValidationFailed || cause instanceof errors.JWTExpired ? cause.payload : undefined);
    this.identity = payload && { sub: stringOrUndefined(payload.sub), client_id: stringOrUndefined(payload.client_id) };
  }
}

/** RFC 6750 §3.1 lets the description say why; a client renews on "expired" and need not guess. */
const EXPIRED = 'the access token has expired: request a new one';
const INVALID = 'the access token is invalid or revoked';

const stringOrUndefined = (value: unknown) => (typeof value === 'string' ? value : undefined);

/**
 * Verifies our own access tokens: the strict compact serialization first, then only our issuer and keys, exact
 * `iss`, an accepted `aud` naming at most one of our deployments, `typ` at+jwt, allowed algorithms, required
 * claims, no `iat` in the future, bounded lifetime, and a revocation check by `jti`.
 */
export class AccessTokenVerifier {
  private readonly now: () => number;
  /** The leeway this verifier applies (`proxy.leeway`, in seconds), for caches of what it verified. */
  readonly clockToleranceSec: number;

  constructor(
    private readonly keys: KeyStore,
    private readonly revocations: RevocationStore,
    private readonly options: VerifierOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.clockToleranceSec = options.clockToleranceSec;
  }

  /** Signature and claims, then revocation by `jti`. */
  async verify(token: string): Promise<AccessTokenClaims> {
    const claims = await this.verifyWithoutRevocation(token);
    await this.assertNotRevoked(claims);
    return claims;
  }

  /**
   * For endpoints where an invalid token is an ordinary answer (RFC 7009, RFC 7662): the claims, or `undefined`
   * when the token is invalid, expired or revoked (`onRejected` hears why, for the audit). A store or key outage
   * still throws: it says nothing about the token.
   */
  async verifyIfValid(token: string, onRejected?: (err: InvalidTokenError) => void): Promise<AccessTokenClaims | undefined> {
    try {
      return await this.verify(token);
    } catch (err) {
      if (err instanceof InvalidTokenError) {
        onRejected?.(err);
        return undefined;
      }
      throw err;
    }
  }

  async assertNotRevoked(claims: RevocableToken): Promise<void> {
    if (await this.revocations.isRevoked(claims)) throw new InvalidTokenError('ERR_REVOKED', undefined, claims);
  }

  /** Signature and claims only: what a cache may keep. Revocation must still be checked on every use. */
  async verifyWithoutRevocation(token: string): Promise<AccessTokenClaims> {
    if (!parseCompactJws(token)) throw new InvalidTokenError('ERR_NOT_COMPACT');
    const tolerance = this.clockToleranceSec;
    let claims: AccessTokenClaims;
    try {
      const result = await jwtVerify(token, (header: JWTHeaderParameters) => this.keyFor(header), {
        issuer: this.options.issuer,
        audience: [...this.options.audiences],
        typ: ACCESS_TOKEN_TYPE,
        algorithms: ACCESS_TOKEN_ALGORITHMS,
        requiredClaims: ['exp', 'iat', 'nbf', 'jti', 'sub', 'client_id', 'scope'],
        clockTolerance: tolerance,
        currentDate: new Date(this.now()),
      });
      claims = result.payload as unknown as AccessTokenClaims;
    } catch (err) {
      if (err instanceof InvalidTokenError) throw err;
      throw new InvalidTokenError(err instanceof errors.JOSEError ? err.code : 'malformed', err);
    }
    const aud: unknown = claims.aud;
    const audOk = typeof aud === 'string' || (Array.isArray(aud) && aud.every((a) => typeof a === 'string'));
    if (typeof claims.jti !== 'string' || typeof claims.client_id !== 'string' || typeof claims.scope !== 'string' || !audOk) {
      throw new InvalidTokenError('ERR_CLAIM_TYPE', undefined, claims);
    }
    // jose checks a future `iat` only together with `maxTokenAge`.
    if (claims.iat > this.now() / 1000 + tolerance) throw new InvalidTokenError('ERR_IAT_IN_FUTURE', undefined, claims);
    if ((claims.exp - claims.iat) * 1000 > this.options.maxTtlMs) throw new InvalidTokenError('ERR_LIFETIME_TOO_LONG', undefined, claims);
    // A token for two of our deployments would be valid at both: we never issue one, so none is genuine.
    if (audiences(claims).filter((a) => this.options.audiences.includes(a)).length > 1) throw new InvalidTokenError('ERR_AUD_OTHER_DEPLOYMENT', undefined, claims);
    return claims;
  }

  private keyFor(header: JWTHeaderParameters) {
    if (header.kid !== undefined && this.keys.isWithdrawn(header.kid)) throw new InvalidTokenError('ERR_KEY_WITHDRAWN');
    const key = header.kid === undefined ? undefined : this.keys.publicKey(header.kid);
    if (!key || key.alg !== header.alg) throw new errors.JWKSNoMatchingKey();
    return key.publicKey;
  }
}

/** Whether the token names `audience` (without building a list: the proxy asks this once per request). */
export function hasAudience(claims: Pick<AccessTokenClaims, 'aud'>, audience: string): boolean {
  return typeof claims.aud === 'string' ? claims.aud === audience : claims.aud.includes(audience);
}

/** The token's audiences as a list (`aud` may be one string or an array, RFC 7519 §4.1.3). */
export function audiences(claims: Pick<AccessTokenClaims, 'aud'>): readonly string[] {
  return typeof claims.aud === 'string' ? [claims.aud] : claims.aud;
}
