import { errors } from 'jose';

/**
 * Why one of our access tokens was refused: a closed vocabulary for audit records and the admin API, so a
 * security admin can tell a revoked token from an expired one. Never put on the wire: the 401 stays generic.
 *
 * | reason | the token |
 * | --- | --- |
 * | `no_token` | was not presented at all |
 * | `not_bearer` | was presented in another scheme than `Bearer`, or not as a token |
 * | `not_compact` | is not the strict compact JWS serialization |
 * | `malformed` | cannot be parsed as a JWT |
 * | `bad_signature` | does not verify with the key its `kid` names |
 * | `unknown_key` | names a key (`kid`) this broker does not have |
 * | `key_withdrawn` | was signed by a key that has been removed from the key set |
 * | `algorithm_not_allowed` | uses an algorithm that is not allowed (or not that key's) |
 * | `wrong_type` | is not an `at+jwt` access token |
 * | `wrong_issuer` | was issued by another issuer |
 * | `wrong_audience` | is for an audience that is no deployment of this broker |
 * | `other_deployment` | is for another deployment of this broker |
 * | `expired` | is past its `exp` |
 * | `not_yet_valid` | is before its `nbf` |
 * | `issued_in_future` | has an `iat` in the future beyond the leeway |
 * | `lifetime_too_long` | lives longer than `tokens.max_ttl` allows |
 * | `claims_invalid` | lacks a required claim, or a claim has the wrong type |
 * | `revoked` | was revoked (by `jti`, subject or client) |
 * | `other` | was refused for a reason not classified here (a code this module does not know yet) |
 */
export type TokenRejection =
  | 'no_token'
  | 'not_bearer'
  | 'not_compact'
  | 'malformed'
  | 'bad_signature'
  | 'unknown_key'
  | 'key_withdrawn'
  | 'algorithm_not_allowed'
  | 'wrong_type'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'other_deployment'
  | 'expired'
  | 'not_yet_valid'
  | 'issued_in_future'
  | 'lifetime_too_long'
  | 'claims_invalid'
  | 'revoked'
  | 'other';

/** Our own `ERR_*` codes and jose's error codes, by rejection. */
const BY_CODE: Readonly<Record<string, TokenRejection>> = {
  ERR_NO_TOKEN: 'no_token',
  ERR_NOT_BEARER: 'not_bearer',
  ERR_NOT_COMPACT: 'not_compact',
  malformed: 'malformed',
  ERR_JWS_INVALID: 'malformed',
  ERR_JWT_INVALID: 'malformed',
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: 'bad_signature',
  ERR_JWKS_NO_MATCHING_KEY: 'unknown_key',
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: 'unknown_key',
  ERR_KEY_WITHDRAWN: 'key_withdrawn',
  ERR_JOSE_ALG_NOT_ALLOWED: 'algorithm_not_allowed',
  ERR_JOSE_NOT_SUPPORTED: 'algorithm_not_allowed',
  ERR_WRONG_DEPLOYMENT: 'other_deployment',
  ERR_AUD_OTHER_DEPLOYMENT: 'other_deployment',
  ERR_JWT_EXPIRED: 'expired',
  ERR_IAT_IN_FUTURE: 'issued_in_future',
  ERR_LIFETIME_TOO_LONG: 'lifetime_too_long',
  ERR_CLAIM_TYPE: 'claims_invalid',
  ERR_REVOKED: 'revoked',
};

/** jose names the claim that failed a check; a claim that is missing or of the wrong type is `claims_invalid`. */
const BY_FAILED_CLAIM: Readonly<Record<string, TokenRejection>> = {
  typ: 'wrong_type',
  iss: 'wrong_issuer',
  aud: 'wrong_audience',
  nbf: 'not_yet_valid',
  iat: 'issued_in_future',
};

/**
 * The rejection an `InvalidTokenError` reason code stands for; `cause` is the jose error, when there was one
 * (its failed claim refines `ERR_JWT_CLAIM_VALIDATION_FAILED`). An unknown code is `other`, never a guess.
 */
export function tokenRejection(reason: string, cause?: unknown): TokenRejection {
  if (reason === errors.JWTClaimValidationFailed.code) {
    const failed = cause instanceof errors.JWTClaimValidationFailed && cause.reason === 'check_failed' ? BY_FAILED_CLAIM[cause.claim] : undefined;
    return failed ?? 'claims_invalid';
  }
  return Object.hasOwn(BY_CODE, reason) ? BY_CODE[reason]! : 'other';
}
