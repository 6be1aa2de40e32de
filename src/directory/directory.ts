import * as oidc from 'openid-client';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { directoryUnavailable, invalidClient, invalidRequest, OAuthError } from '../errors/oauth-error.js';
import { toDirectoryError } from './to-directory-error.js';
import type { DirectoryConfig } from '../config/schema.js';
import type { BindingSubject } from '../policy/policy.js';

/** The identity the directory vouched for. */
export interface DirectoryIdentity extends BindingSubject {
  issuer: string;
}

export type SubjectTokenType = 'access_token' | 'id_token' | 'jwt';

interface Discovered {
  metadata: oidc.ServerMetadata;
  jwks: JWTVerifyGetKey;
}

/** After a failed discovery, requests fail fast for this long instead of piling onto a down directory. */
const DISCOVERY_BACKOFF_MS = 2_000;

/**
 * One central directory (OpenID provider). The only module that talks to it: discovery and the
 * client-credentials check through openid-client, token signatures through jose with a cached JWKS.
 */
export class Directory {
  private discovered: Promise<Discovered> | undefined;
  private failedAt = 0;
  private ready = false;

  constructor(
    readonly name: string,
    readonly config: DirectoryConfig,
  ) {}

  get issuer(): string {
    return this.config.issuer;
  }

  isReady(): boolean {
    return this.ready;
  }

  /** Discovers the directory once; a failure is retried by a later call after a short backoff. */
  discover(): Promise<Discovered> {
    if (this.discovered) return this.discovered;
    if (Date.now() - this.failedAt < DISCOVERY_BACKOFF_MS) return Promise.reject(directoryUnavailable(undefined, 2));
    const attempt = this.runDiscovery().then(
      (d) => {
        this.failedAt = 0;
        this.ready = true;
        return d;
      },
      (err: unknown) => {
        this.discovered = undefined;
        this.failedAt = Date.now();
        // Discovery is the broker's own request: whatever the directory answers, it is no caller's fault.
        throw err instanceof OAuthError ? err : directoryUnavailable(err);
      },
    );
    this.discovered = attempt;
    return attempt;
  }

  private async runDiscovery(): Promise<Discovered> {
    const config = await oidc.discovery(new URL(this.config.issuer), 'airflow-token-broker', undefined, undefined, {
      timeout: this.timeoutSeconds(),
      execute: this.config.allow_insecure_http ? [oidc.allowInsecureRequests] : [],
    });
    const metadata = config.serverMetadata();
    if (!metadata.jwks_uri) throw new Error(`directory ${this.name} publishes no jwks_uri`);
    const remote = createRemoteJWKSet(new URL(metadata.jwks_uri), {
      timeoutDuration: this.config.timeout,
      cooldownDuration: 30_000,
      cacheMaxAge: 600_000,
    });
    return { metadata, jwks: blamingTheDirectory(remote) };
  }

  /**
   * Checks a service account's credentials at the directory (client-credentials grant there) and reads the
   * identity from the access token it returns. Unknown client and wrong secret fail identically.
   */
  async authenticateClient(clientId: string, clientSecret: string): Promise<DirectoryIdentity> {
    const cc = this.config.client_credentials;
    if (!cc) throw new OAuthError('server_error', 'client credentials are not configured');
    const { metadata, jwks } = await this.discover();
    const auth = cc.auth_method === 'client_secret_post' ? oidc.ClientSecretPost(clientSecret) : oidc.ClientSecretBasic(clientSecret);
    const client = new oidc.Configuration(metadata, clientId, undefined, auth);
    client.timeout = this.timeoutSeconds();
    if (this.config.allow_insecure_http) oidc.allowInsecureRequests(client);
    const params: Record<string, string> = {};
    if (cc.scope) params.scope = cc.scope;
    if (cc.resource) params.resource = cc.resource;
    let accessToken: string;
    try {
      accessToken = (await oidc.clientCredentialsGrant(client, params)).access_token;
    } catch (err) {
      throw toDirectoryError(err);
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(accessToken, jwks, { issuer: this.config.issuer, audience: cc.audience, requiredClaims: ['exp'] }));
    } catch (err) {
      throw isJwksFetchFailure(err)
        ? directoryUnavailable(err)
        : new OAuthError('server_error', 'the directory answered with an unusable token', { cause: err });
    }
    const identity = this.identityFrom(payload);
    // The directory must have vouched for this very client, not another one.
    if (identity.clientId !== clientId) throw invalidClient(new Error('directory token names another client'));
    return identity;
  }

  /** Validates an RFC 8693 subject token issued by this directory. */
  async verifySubjectToken(token: string, type: SubjectTokenType): Promise<DirectoryIdentity> {
    const te = this.config.token_exchange;
    if (!te) throw invalidRequest('subject_token issuer is not trusted for token exchange');
    if (!te.token_types.includes(type)) throw invalidRequest(`subject_token_type ${type} is not accepted from this issuer`);
    const { jwks } = await this.discover();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks, {
        issuer: this.config.issuer,
        audience: te.audiences,
        algorithms: te.algorithms,
        requiredClaims: ['exp', 'iat', 'sub'],
        clockTolerance: 30,
        ...(te.max_age !== undefined ? { maxTokenAge: Math.floor(te.max_age / 1000) } : {}),
      }));
    } catch (err) {
      if (isJwksFetchFailure(err)) throw directoryUnavailable(err);
      if (err instanceof errors.JWTExpired) throw invalidRequest('subject_token has expired', err);
      if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'aud') {
        throw invalidRequest('subject_token audience is not accepted', err);
      }
      throw invalidRequest('subject_token is invalid', err);
    }
    const typ = decodeProtectedHeader(token).typ?.toLowerCase();
    // An access token (RFC 9068 typ) is never accepted as an ID token, and vice versa.
    if (type === 'id_token' && (typ === 'at+jwt' || typ === 'application/at+jwt')) throw invalidRequest('subject_token is not an id_token');
    if (type === 'access_token' && payload.nonce !== undefined) throw invalidRequest('subject_token is not an access_token');
    return this.identityFrom(payload);
  }

  private identityFrom(payload: JWTPayload): DirectoryIdentity {
    const claims = this.config.claims;
    const subject = payload[claims.subject];
    const clientId = claims.client_id.map((c) => payload[c]).find((v) => typeof v === 'string');
    const rawGroups = payload[claims.groups];
    const groups = Array.isArray(rawGroups) ? rawGroups.filter((g): g is string => typeof g === 'string') : typeof rawGroups === 'string' ? [rawGroups] : [];
    const sub = typeof subject === 'string' && subject !== '' ? subject : undefined;
    const client = typeof clientId === 'string' && clientId !== '' ? clientId : sub;
    if (!sub || !client) throw invalidRequest('the directory token names no subject');
    return { directory: this.name, issuer: this.config.issuer, subject: sub, clientId: client, groups };
  }

  private timeoutSeconds(): number {
    return Math.max(1, Math.ceil(this.config.timeout / 1000));
  }
}

/** Reads the unverified `iss` only to pick which configured directory must then verify the token. */
export function unverifiedIssuer(token: string): string | undefined {
  try {
    const iss = decodeJwt(token).iss;
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}

/** The directory's key set could not be fetched or read (down, 5xx, redirect, not JSON, not a key set, timeout). */
class JwksFetchFailure extends Error {}

function isJwksFetchFailure(err: unknown): err is JwksFetchFailure {
  return err instanceof JwksFetchFailure;
}

/**
 * jose reports a JWKS endpoint's 500 or malformed JSON as a generic `JOSEError`, like many token faults, so the
 * cause is sorted out where the key is looked up: only "no key (or several) matches the token" is the token's
 * doing; everything else failed while fetching or reading the directory's key set.
 */
function blamingTheDirectory(remote: JWTVerifyGetKey): JWTVerifyGetKey {
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) throw err;
      throw new JwksFetchFailure('the directory key set could not be read', { cause: err });
    }
  };
}
