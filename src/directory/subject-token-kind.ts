import { invalidRequest } from '../errors/oauth-error.js';

/** An RFC 8693 `subject_token_type` the broker takes (`urn:ietf:params:oauth:token-type:<this>`). */
export type SubjectTokenType = 'access_token' | 'id_token' | 'jwt';

/**
 * What a directory token says it is, from everything it says:
 * - `access_token`: header `typ` `at+jwt` (RFC 9068), the directory's type claim (Keycloak `typ: Bearer`), or
 *   a claim only access tokens carry (`client_id`, `scope`, `scp`);
 * - `id_token`: the type claim (Keycloak `typ: ID`), or a claim only ID tokens carry (`nonce`, `at_hash`,
 *   `c_hash`, `s_hash`);
 * - `unknown`: none of these (an OpenID Connect ID token need carry no marker at all);
 * - `conflicting`: marks of both; `other`: it names another kind (a header `typ` such as `logout+jwt`, a type
 *   claim value such as Keycloak's `Refresh`).
 * `auth_time` and `azp` are no evidence: RFC 9068 access tokens may carry them and Keycloak puts `azp` in both.
 */
export type SubjectTokenKind = 'access_token' | 'id_token' | 'unknown' | 'conflicting' | 'other';

/** How a directory names its token types in a claim (`token_exchange.type_claim`). */
export interface TypeClaim {
  name: string;
  access_token: readonly string[];
  id_token: readonly string[];
}

const ACCESS_HEADER_TYPES = new Set(['at+jwt', 'application/at+jwt']);
const PLAIN_HEADER_TYPES = new Set(['jwt', 'application/jwt']);
const ACCESS_TOKEN_CLAIMS = ['client_id', 'scope', 'scp'];
const ID_TOKEN_CLAIMS = ['nonce', 'at_hash', 'c_hash', 's_hash'];

export function subjectTokenKind(header: Record<string, unknown>, payload: Record<string, unknown>, typeClaim: TypeClaim): SubjectTokenKind {
  let access = false;
  let id = false;
  if (header.typ !== undefined) {
    const typ = typeof header.typ === 'string' ? header.typ.toLowerCase() : undefined;
    if (typ !== undefined && ACCESS_HEADER_TYPES.has(typ)) access = true;
    else if (typ === undefined || !PLAIN_HEADER_TYPES.has(typ)) return 'other';
  }
  const named = payload[typeClaim.name];
  if (named !== undefined) {
    if (typeof named === 'string' && typeClaim.access_token.includes(named)) access = true;
    else if (typeof named === 'string' && typeClaim.id_token.includes(named)) id = true;
    else return 'other';
  }
  if (ACCESS_TOKEN_CLAIMS.some((c) => Object.hasOwn(payload, c))) access = true;
  if (ID_TOKEN_CLAIMS.some((c) => Object.hasOwn(payload, c))) id = true;
  return access && id ? 'conflicting' : access ? 'access_token' : id ? 'id_token' : 'unknown';
}

/**
 * Refuses a token whose kind does not fit the declared type. An `access_token` must say it is one (an ID token
 * without a `nonce` looks like anything else); an `id_token` must not say it is an access token (ID tokens need
 * carry no marker); a `jwt` may be either or neither. A conflicting or other token fits no type.
 */
export function assertKindFits(kind: SubjectTokenKind, declared: SubjectTokenType): void {
  if (kind === 'conflicting') throw invalidRequest('subject_token says it is both an access token and an ID token');
  if (kind === 'other') throw invalidRequest('subject_token is neither an access token nor an ID token');
  if (declared === 'access_token' && kind !== 'access_token') throw invalidRequest('subject_token is not an access_token');
  if (declared === 'id_token' && kind === 'access_token') throw invalidRequest('subject_token is not an id_token');
}
