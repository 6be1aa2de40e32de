import { errors } from 'jose';
import { tokenRejection } from '../../src/tokens/token-rejection.js';

/** Every reason code an InvalidTokenError may carry maps into the closed vocabulary; nothing is guessed. */
describe('token rejection reasons', () => {
  test.each([
    ['ERR_NO_TOKEN', 'no_token'],
    ['ERR_NOT_BEARER', 'not_bearer'],
    ['ERR_NOT_COMPACT', 'not_compact'],
    ['malformed', 'malformed'],
    ['ERR_JWS_INVALID', 'malformed'],
    ['ERR_JWT_INVALID', 'malformed'],
    ['ERR_JWS_SIGNATURE_VERIFICATION_FAILED', 'bad_signature'],
    ['ERR_JWKS_NO_MATCHING_KEY', 'unknown_key'],
    ['ERR_KEY_WITHDRAWN', 'key_withdrawn'],
    ['ERR_JOSE_ALG_NOT_ALLOWED', 'algorithm_not_allowed'],
    ['ERR_WRONG_DEPLOYMENT', 'other_deployment'],
    ['ERR_AUD_OTHER_DEPLOYMENT', 'other_deployment'],
    ['ERR_JWT_EXPIRED', 'expired'],
    ['ERR_IAT_IN_FUTURE', 'issued_in_future'],
    ['ERR_LIFETIME_TOO_LONG', 'lifetime_too_long'],
    ['ERR_CLAIM_TYPE', 'claims_invalid'],
    ['ERR_REVOKED', 'revoked'],
  ])('%s is %s', (code, rejection) => {
    expect(tokenRejection(code)).toBe(rejection);
  });

  test.each([
    ['typ', 'check_failed', 'wrong_type'],
    ['iss', 'check_failed', 'wrong_issuer'],
    ['aud', 'check_failed', 'wrong_audience'],
    ['nbf', 'check_failed', 'not_yet_valid'],
    ['iat', 'check_failed', 'issued_in_future'],
    ['jti', 'missing', 'claims_invalid'],
    ['iat', 'invalid', 'claims_invalid'],
  ])('a failed %s claim (%s) is %s', (claim, reason, rejection) => {
    const cause = new errors.JWTClaimValidationFailed('x', {}, claim, reason);
    expect(tokenRejection('ERR_JWT_CLAIM_VALIDATION_FAILED', cause)).toBe(rejection);
  });

  test('an unknown code is "other", also one named like an Object member', () => {
    expect(tokenRejection('ERR_SOMETHING_NEW')).toBe('other');
    expect(tokenRejection('toString')).toBe('other');
    expect(tokenRejection('ERR_JWT_CLAIM_VALIDATION_FAILED')).toBe('claims_invalid');
  });
});
