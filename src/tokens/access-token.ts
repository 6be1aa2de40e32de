import type { ResourceKind } from '../policy/vocabulary.js';

/** RFC 9396 authorization detail of type `airflow`: a grant, like a policy grant, that narrows a token. */
export type AirflowAuthorizationDetail = { type: 'airflow'; actions: string[] } & Partial<Record<ResourceKind, string[]>>;

/** The claims of our RFC 9068 access tokens. */
export interface AccessTokenClaims {
  iss: string;
  sub: string;
  /** One audience, or several (RFC 7519 §4.1.3): the proxy accepts an array naming no other of our deployments. */
  aud: string | string[];
  exp: number;
  iat: number;
  nbf: number;
  jti: string;
  client_id: string;
  /** Space-separated role names. */
  scope: string;
  authorization_details?: AirflowAuthorizationDetail[];
}

export const ACCESS_TOKEN_TYPE = 'at+jwt';
export const ACCESS_TOKEN_ALGORITHMS = ['ES256', 'EdDSA', 'RS256'];
