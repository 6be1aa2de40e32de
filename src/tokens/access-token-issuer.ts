import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { KeyStore } from '../keys/key-store.js';
import { ACCESS_TOKEN_TYPE, type AccessTokenClaims, type AirflowAuthorizationDetail } from './access-token.js';

export interface TokenRequestOutcome {
  subject: string;
  clientId: string;
  audience: string;
  roles: readonly string[];
  authorizationDetails: AirflowAuthorizationDetail[] | undefined;
  ttlMs: number;
  /** Epoch seconds the token must not outlive (the subject token's `exp` at token exchange). */
  notAfter?: number | undefined;
}

export interface IssuedToken {
  token: string;
  /** We always issue a single audience: the deployment's. */
  claims: AccessTokenClaims & { aud: string };
}

/** Signs RFC 9068 access tokens with the key store's active key. */
export class AccessTokenIssuer {
  constructor(
    private readonly issuer: string,
    private readonly keys: KeyStore,
    private readonly now: () => number = Date.now,
  ) {}

  async issue(request: TokenRequestOutcome): Promise<IssuedToken> {
    const key = this.keys.requireSigningKey();
    const iat = Math.floor(this.now() / 1000);
    const claims: IssuedToken['claims'] = {
      iss: this.issuer,
      sub: request.subject,
      aud: request.audience,
      exp: Math.min(iat + Math.floor(request.ttlMs / 1000), request.notAfter ?? Number.POSITIVE_INFINITY),
      iat,
      nbf: iat,
      jti: randomUUID(),
      client_id: request.clientId,
      scope: request.roles.join(' '),
      ...(request.authorizationDetails ? { authorization_details: request.authorizationDetails } : {}),
    };
    const token = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: ACCESS_TOKEN_TYPE })
      .sign(key.privateKey);
    return { token, claims };
  }
}
