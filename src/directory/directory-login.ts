import * as oidc from 'openid-client';
import { directoryUnavailable, invalidRequest, OAuthError } from '../errors/oauth-error.js';
import type { Directory, DirectoryIdentity } from './directory.js';

/** What the broker keeps, server side, between sending a person to the directory and the callback. */
export interface LoginChallenge {
  state: string;
  nonce: string;
  codeVerifier: string;
}

/** A person the directory logged in: the identity read from the verified ID token, and that token for logout. */
export interface DirectoryLoginResult {
  identity: DirectoryIdentity;
  idToken: string;
}

export interface DirectoryLoginOptions {
  clientId: string;
  clientSecret: string;
  scope: string;
  /** `<issuer>/login/callback`: derived from the broker's issuer, never from `Host`. */
  redirectUri: string;
}

/**
 * The broker as an OpenID relying party at one directory: authorization code + PKCE (S256) + state + nonce,
 * all through openid-client (which also checks the RFC 9207 `iss` parameter when the directory advertises it, the
 * ID token's `iss`, `aud`, `nonce` and times). The ID token's signature is verified too, with the directory's key
 * set and algorithms ({@link Directory.readPersonIdToken}). A sibling of {@link Directory}: it uses its discovery.
 */
export class DirectoryLogin {
  constructor(
    private readonly directory: Directory,
    private readonly options: DirectoryLoginOptions,
  ) {}

  /** A fresh challenge for one login attempt (each value from openid-client's CSPRNG helpers). */
  newChallenge(): LoginChallenge {
    return { state: oidc.randomState(), nonce: oidc.randomNonce(), codeVerifier: oidc.randomPKCECodeVerifier() };
  }

  /** Where to send the browser: the directory's authorization endpoint with the challenge's S256 code challenge. */
  async authorizationUrl(challenge: LoginChallenge): Promise<string> {
    const client = await this.client();
    const url = oidc.buildAuthorizationUrl(client, {
      redirect_uri: this.options.redirectUri,
      scope: this.options.scope,
      response_type: 'code',
      state: challenge.state,
      nonce: challenge.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(challenge.codeVerifier),
      code_challenge_method: 'S256',
    });
    return url.href;
  }

  /**
   * Validates the callback (`callbackUrl`: the full URL the browser came back to) against the challenge, redeems
   * the code and reads the person. Anything the callback or the directory's answer gets wrong is a 400 that says
   * "log in again"; a directory that cannot answer is 503.
   */
  async complete(callbackUrl: URL, challenge: LoginChallenge): Promise<DirectoryLoginResult> {
    const client = await this.client();
    let tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
    try {
      tokens = await oidc.authorizationCodeGrant(client, callbackUrl, {
        pkceCodeVerifier: challenge.codeVerifier,
        expectedState: challenge.state,
        expectedNonce: challenge.nonce,
        idTokenExpected: true,
      });
    } catch (err) {
      throw toLoginError(err);
    }
    const idToken = tokens.id_token;
    if (!idToken) throw invalidRequest('the directory sent no ID token: log in again');
    return { identity: await this.directory.readPersonIdToken(idToken, this.options.clientId), idToken };
  }

  /** RP-initiated logout at the directory, when it has an `end_session_endpoint`; undefined otherwise. */
  async endSessionUrl(idToken: string, postLogoutRedirectUri: string): Promise<string | undefined> {
    const client = await this.client();
    if (!client.serverMetadata().end_session_endpoint) return undefined;
    return oidc.buildEndSessionUrl(client, { id_token_hint: idToken, post_logout_redirect_uri: postLogoutRedirectUri }).href;
  }

  private async client(): Promise<oidc.Configuration> {
    const { metadata } = await this.directory.discover();
    const client = new oidc.Configuration(metadata, this.options.clientId, undefined, oidc.ClientSecretBasic(this.options.clientSecret));
    client.timeout = Math.max(1, Math.ceil(this.directory.config.timeout / 1000));
    if (this.directory.config.allow_insecure_http) oidc.allowInsecureRequests(client);
    return client;
  }
}

/** openid-client's codes for a callback or token response that failed validation (the callback's fault). */
const VALIDATION_FAILURES: ReadonlySet<string> = new Set([
  'OAUTH_INVALID_RESPONSE',
  'OAUTH_JWT_TIMESTAMP_CHECK_FAILED',
  'OAUTH_JWT_CLAIM_COMPARISON_FAILED',
  'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED',
  'OAUTH_PARSE_ERROR',
  'OAUTH_INVALID_REQUEST',
]);

/**
 * The boundary for the callback: a directory that cannot answer is 503 `temporarily_unavailable`; a refused
 * code (used already, expired) is `invalid_grant`; the directory refusing the broker's own client (a wrong
 * `client_secret`) is 503 saying the configuration needs fixing; anything that fails validation (state, `iss`,
 * nonce, the ID token's claims) is `invalid_request`. Never a session.
 */
export function toLoginError(err: unknown): OAuthError {
  if (err instanceof OAuthError) return err;
  if (err instanceof oidc.AuthorizationResponseError) {
    return invalidRequest(`the directory did not log you in (${printable(err.error)}): log in again`, err);
  }
  if (err instanceof oidc.ResponseBodyError) {
    if (err.status >= 500 || err.error === 'temporarily_unavailable' || err.error === 'server_error') return directoryUnavailable(err);
    if (err.error === 'invalid_grant') return new OAuthError('invalid_grant', 'the directory refused the authorization code (used already or expired): log in again', { cause: err });
    return loginClientRefused(err);
  }
  if (err instanceof oidc.ClientError && err.cause instanceof Response) {
    return err.cause.status >= 400 && err.cause.status < 500 ? loginClientRefused(err) : directoryUnavailable(err);
  }
  if (err instanceof oidc.ClientError && err.code !== undefined && VALIDATION_FAILURES.has(err.code)) return invalidRequest('the login response is not valid: log in again', err);
  // A fetch failure ("something went wrong" without a code: a TypeError of another realm too), a timeout: no answer.
  return directoryUnavailable(err);
}

function loginClientRefused(cause: unknown): OAuthError {
  return new OAuthError('temporarily_unavailable', "the central directory refused the broker's login client: the broker's login configuration needs fixing", { retryAfter: 30, cause });
}

function printable(code: string): string {
  return code.replace(/[^a-z_]/g, '').slice(0, 40) || 'error';
}
