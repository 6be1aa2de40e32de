import * as oidc from 'openid-client';
import { errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { directoryUnavailable, invalidClient, invalidRequest, OAuthError } from '../errors/oauth-error.js';
import { directoryKeySet, keySetUnavailable } from './directory-key-set.js';
import { toDirectoryError } from './to-directory-error.js';
import type { DirectoryConfig } from '../config/schema.js';
import type { BindingSubject } from '../policy/policy.js';
import { parseCompactJws, type CompactJws } from '../tokens/compact-jws.js';
import { assertKindFits, subjectTokenKind, type SubjectTokenType } from './subject-token-kind.js';

export type { SubjectTokenType } from './subject-token-kind.js';

/** The identity the directory vouched for. */
export interface DirectoryIdentity extends BindingSubject {
  issuer: string;
  /**
   * Token exchange: the subject token's `exp` (epoch seconds). A token issued for this identity never outlives
   * it. Unset for client credentials, where the directory's token only proved the secret just now.
   */
  expiresAt?: number;
}

/** Clock skew tolerated on the directory's `exp`, `nbf` and `iat`. */
const CLOCK_TOLERANCE_SEC = 30;

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
    return { metadata, jwks: directoryKeySet(new URL(metadata.jwks_uri), { timeoutMs: this.config.timeout }) };
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
    const unusable = (cause: unknown) => new OAuthError('server_error', 'the directory answered with an unusable token', { cause });
    if (!parseCompactJws(accessToken)) throw unusable(new Error('the directory access token is not a compact JWS'));
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(accessToken, jwks, {
        issuer: this.config.issuer,
        audience: cc.audience,
        requiredClaims: ['exp'],
        clockTolerance: CLOCK_TOLERANCE_SEC,
      }));
    } catch (err) {
      throw keySetUnavailable(err) ?? unusable(err);
    }
    if (issuedInTheFuture(payload)) throw unusable(new Error('the directory access token is issued in the future'));
    const identity = this.identityFrom(payload, (problem) => unusable(new Error(`the directory access token: ${problem}`)));
    // The directory must have vouched for this very client, not another one.
    if (identity.clientId !== clientId) throw invalidClient(new Error('directory token names another client'));
    return identity;
  }

  /** Validates an RFC 8693 subject token issued by this directory. */
  async verifySubjectToken(token: string, type: SubjectTokenType): Promise<DirectoryIdentity> {
    const te = this.config.token_exchange;
    if (!te) throw invalidRequest('subject_token issuer is not trusted for token exchange');
    if (!te.token_types.includes(type)) throw invalidRequest(`subject_token_type ${type} is not accepted from this issuer`);
    if (!parseCompactJws(token)) throw invalidRequest('subject_token is not a compact JWT');
    const { jwks } = await this.discover();
    let verified: CompactJws;
    try {
      const result = await jwtVerify(token, jwks, {
        issuer: this.config.issuer,
        audience: te.audiences,
        algorithms: te.algorithms,
        requiredClaims: ['exp', 'iat', 'sub'],
        clockTolerance: CLOCK_TOLERANCE_SEC,
        ...(te.max_age !== undefined ? { maxTokenAge: Math.floor(te.max_age / 1000) } : {}),
      });
      verified = { header: result.protectedHeader, payload: result.payload };
    } catch (err) {
      const unavailable = keySetUnavailable(err);
      if (unavailable) throw unavailable;
      if (err instanceof errors.JWTExpired) throw invalidRequest('subject_token has expired', err);
      if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'aud') {
        throw invalidRequest('subject_token audience is not accepted', err);
      }
      throw invalidRequest('subject_token is invalid', err);
    }
    const payload = verified.payload as JWTPayload;
    if (issuedInTheFuture(payload)) throw invalidRequest('subject_token is issued in the future');
    assertKindFits(subjectTokenKind(verified.header, verified.payload, te.type_claim), type);
    return { ...this.identityFrom(payload, (problem) => invalidRequest(`subject_token ${problem}`)), expiresAt: payload.exp! };
  }

  /** Reads the identity; `refuse(problem)` builds the error for a claim of the wrong shape. */
  private identityFrom(payload: JWTPayload, refuse: (problem: string) => OAuthError): DirectoryIdentity {
    const claims = this.config.claims;
    const subject = payload[claims.subject];
    const clientId = claims.client_id.map((c) => payload[c]).find((v) => typeof v === 'string');
    const groups = groupsOf(payload[claims.groups], claims.groups_may_be_string);
    if (!groups) throw refuse(`claim ${claims.groups} is not an array of strings`);
    const sub = typeof subject === 'string' && subject !== '' ? subject : undefined;
    const client = typeof clientId === 'string' && clientId !== '' ? clientId : sub;
    // A client-credentials token without a subject is the directory's fault, a subject token's the caller's.
    if (!sub || !client) throw refuse('names no subject');
    return { directory: this.name, issuer: this.config.issuer, subject: sub, clientId: client, groups };
  }

  private timeoutSeconds(): number {
    return Math.max(1, Math.ceil(this.config.timeout / 1000));
  }
}

/** Reads the unverified `iss` only to pick which configured directory must then verify the token. */
export function unverifiedIssuer(jws: CompactJws): string | undefined {
  return typeof jws.payload.iss === 'string' ? jws.payload.iss : undefined;
}

/**
 * The only claim shapes bindings match: an array of strings, or absent (no groups); a single string only where
 * the directory is configured to send one. Anything else (a number, an object, an array with a non-string) is
 * undefined: the token is refused rather than read differently from how the directory meant it.
 */
function groupsOf(raw: unknown, mayBeString: boolean): readonly string[] | undefined {
  if (raw === undefined) return [];
  if (Array.isArray(raw)) return raw.every((g) => typeof g === 'string') ? raw : undefined;
  return mayBeString && typeof raw === 'string' ? [raw] : undefined;
}

/** jose checks a future `iat` only together with `maxTokenAge`; we refuse one always. */
function issuedInTheFuture(payload: JWTPayload): boolean {
  return typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + CLOCK_TOLERANCE_SEC;
}
