import * as oidc from 'openid-client';
import { compactVerify, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { directoryUnavailable, invalidClient, invalidRequest, OAuthError } from '../errors/oauth-error.js';
import { directoryKeySet, isKeySetFailure, keySetUnavailable } from './directory-key-set.js';
import { directoryTokenMismatch, toDirectoryError } from './to-directory-error.js';
import { acceptedAlgorithms } from './accepted-algorithms.js';
import type { DirectoryAlgorithm, DirectoryConfig } from '../config/schema.js';
import { claimAt, parseClaimName, type ClaimPointer } from '../policy/claim-pointer.js';
import type { BindingSubject } from '../policy/policy.js';
import { boundValue } from '../observability/bounded-values.js';
import { parseCompactJws, type CompactJws } from '../tokens/compact-jws.js';
import { assertKindFits, subjectTokenKind, type SubjectTokenType } from './subject-token-kind.js';
import { discoveryProblem, expectationProblems, grantProblem, tokenProblem, type ClientInspection } from './client-inspection.js';

export type { SubjectTokenType } from './subject-token-kind.js';
export type { ClientInspection, DirectoryProblem, DirectoryProblemCode } from './client-inspection.js';

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
  /** The signature algorithms accepted on this directory's tokens, on every path. */
  algorithms: DirectoryAlgorithm[];
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
  private readonly groupsClaim: ClaimPointer;

  constructor(
    readonly name: string,
    readonly config: DirectoryConfig,
  ) {
    this.groupsClaim = parseClaimName(config.claims.groups);
  }

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
    return { metadata, jwks: directoryKeySet(new URL(metadata.jwks_uri), { timeoutMs: this.config.timeout }), algorithms: acceptedAlgorithms(this.config, metadata) };
  }

  /**
   * Checks a service account's credentials at the directory (client-credentials grant there) and reads the
   * identity from the access token it returns. Unknown client and wrong secret fail identically.
   */
  async authenticateClient(clientId: string, clientSecret: string): Promise<DirectoryIdentity> {
    return this.readClientToken(await this.requestClientToken(clientId, clientSecret), clientId);
  }

  /** The client-credentials grant at the directory with the caller's credentials: the access token it returns. */
  private async requestClientToken(clientId: string, clientSecret: string): Promise<string> {
    const cc = this.clientCredentials();
    const { metadata } = await this.discover();
    const auth = cc.auth_method === 'client_secret_post' ? oidc.ClientSecretPost(clientSecret) : oidc.ClientSecretBasic(clientSecret);
    const client = new oidc.Configuration(metadata, clientId, undefined, auth);
    client.timeout = this.timeoutSeconds();
    if (this.config.allow_insecure_http) oidc.allowInsecureRequests(client);
    const params: Record<string, string> = {};
    if (cc.scope) params.scope = cc.scope;
    if (cc.resource) params.resource = cc.resource;
    try {
      return (await oidc.clientCredentialsGrant(client, params)).access_token;
    } catch (err) {
      throw toDirectoryError(err);
    }
  }

  /** Verifies the directory's access token and reads the identity; it must name the client that asked for it. */
  private async readClientToken(accessToken: string, clientId: string): Promise<DirectoryIdentity> {
    const cc = this.clientCredentials();
    const { jwks, algorithms } = await this.discover();
    // The directory's answer, not the caller's request, is at fault: a dependency failure (503), never a 500.
    const unusable = (cause: unknown) => directoryTokenMismatch('token', `${this.what('access token')} is unusable`, cause);
    if (!parseCompactJws(accessToken)) throw unusable(new Error('the directory access token is not a compact JWS'));
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(accessToken, jwks, {
        issuer: this.config.issuer,
        audience: cc.audience,
        algorithms,
        requiredClaims: ['exp'],
        clockTolerance: CLOCK_TOLERANCE_SEC,
      }));
    } catch (err) {
      const unavailable = keySetUnavailable(err);
      if (unavailable) throw unavailable;
      if (isAudienceMismatch(err)) {
        throw directoryTokenMismatch('audience', `${this.what('access token')} has aud ${shown(err.payload.aud)}, not the configured client_credentials.audience ${shown(cc.audience)} (Keycloak: add an audience mapper to the client scope)`);
      }
      if (err instanceof errors.JOSEAlgNotAllowed) {
        throw directoryTokenMismatch('algorithm', `${this.what('access token')} is signed with ${shown(parseCompactJws(accessToken)?.header.alg)}, not one of ${shown(algorithms)}`);
      }
      throw unusable(err);
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
    const { jwks, algorithms } = await this.discover();
    let verified: CompactJws;
    try {
      const result = await jwtVerify(token, jwks, {
        issuer: this.config.issuer,
        audience: te.audiences,
        algorithms,
        requiredClaims: ['exp', 'iat', 'sub'],
        clockTolerance: CLOCK_TOLERANCE_SEC,
        ...(te.max_age !== undefined ? { maxTokenAge: Math.floor(te.max_age / 1000) } : {}),
      });
      verified = { header: result.protectedHeader, payload: result.payload };
    } catch (err) {
      const unavailable = keySetUnavailable(err);
      if (unavailable) throw unavailable;
      if (err instanceof errors.JWTExpired) throw invalidRequest('subject_token has expired', err);
      // The caller's token, so a 400; the log names what was expected (the refusal is at debug, the algorithm at info).
      if (isAudienceMismatch(err)) {
        throw invalidRequest('subject_token audience is not accepted', new Error(`${this.what('subject token')} has aud ${shown(err.payload.aud)}, none of the accepted token_exchange.audiences ${shown(te.audiences)}`));
      }
      if (err instanceof errors.JOSEAlgNotAllowed) {
        const alg = parseCompactJws(token)?.header.alg;
        // The caller wrote the header: its alg is named on the wire only when it reads like an algorithm name.
        const named = typeof alg === 'string' && /^[A-Za-z0-9+-]{1,16}$/.test(alg) ? alg : 'an algorithm';
        throw new OAuthError('invalid_request', `subject_token is signed with ${named}, which this broker does not accept from its issuer`, {
          cause: new Error(`${this.what('subject token')} is signed with ${shown(alg)}, not one of ${shown(algorithms)}`),
          logLevel: 'info',
        });
      }
      throw invalidRequest('subject_token is invalid', err);
    }
    const payload = verified.payload as JWTPayload;
    if (issuedInTheFuture(payload)) throw invalidRequest('subject_token is issued in the future');
    assertKindFits(subjectTokenKind(verified.header, verified.payload, te.type_claim), type);
    return { ...this.identityFrom(payload, (problem) => invalidRequest(`subject_token ${problem}`)), expiresAt: payload.exp! };
  }

  /**
   * A person's ID token from the login callback (openid-client has checked `iss`, `aud`, `nonce` and times): its
   * signature is verified with this directory's key set and algorithms, and the identity read from its claims
   * like a service account's (subject, groups through `claims.groups`); the client is the broker's login client.
   */
  async readPersonIdToken(idToken: string, loginClientId: string): Promise<DirectoryIdentity> {
    const { jwks, algorithms } = await this.discover();
    const refused = (cause: unknown) => invalidRequest('the directory\'s ID token is not valid: log in again', cause);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(idToken, jwks, { issuer: this.config.issuer, audience: loginClientId, algorithms, requiredClaims: ['exp', 'sub'], clockTolerance: CLOCK_TOLERANCE_SEC }));
    } catch (err) {
      throw keySetUnavailable(err) ?? refused(err);
    }
    const identity = this.identityFrom(payload, (problem) => refused(new Error(`${this.what('ID token')} ${problem}`)));
    return { ...identity, clientId: loginClientId };
  }

  /** Reads the identity; `refuse(problem)` builds the error for a claim of the wrong shape. */
  private identityFrom(payload: JWTPayload, refuse: (problem: string) => OAuthError): DirectoryIdentity {
    const claims = this.config.claims;
    const subject = payload[claims.subject];
    const clientId = claims.client_id.map((c) => payload[c]).find((v) => typeof v === 'string');
    const groups = groupsOf(claimAt(payload, this.groupsClaim), claims.groups_may_be_string);
    if (!groups) throw refuse(`claim ${claims.groups} is not an array of strings`);
    const sub = typeof subject === 'string' && subject !== '' ? subject : undefined;
    const client = typeof clientId === 'string' && clientId !== '' ? clientId : sub;
    // A client-credentials token without a subject is the directory's fault, a subject token's the caller's.
    if (!sub || !client) throw refuse('names no subject');
    return { directory: this.name, issuer: this.config.issuer, subject: sub, clientId: client, groups, claims: payload };
  }

  /** "the <kind> of directory <name>", for log lines. */
  private what(kind: string): string {
    return `the ${kind} of directory ${this.name}`;
  }

  /**
   * What the broker sees of a client-credentials grant at this directory, for `directory check`: every problem
   * found instead of the first refusal. The verdict is the broker's own (the same request and checks as
   * `authenticateClient`); issuer and audience are also compared on their own, since jose reports only the
   * first claim that fails. Never throws for anything the directory answers.
   */
  async inspectClient(clientId: string, clientSecret: string): Promise<ClientInspection> {
    const cc = this.clientCredentials();
    let discovered: Discovered;
    try {
      discovered = await this.discover();
    } catch (err) {
      return { problems: [discoveryProblem(this.config.issuer, err)] };
    }
    const { metadata } = discovered;
    const discovery = {
      tokenEndpoint: metadata.token_endpoint,
      signingAlgorithms: metadata.id_token_signing_alg_values_supported ?? [],
      acceptedAlgorithms: discovered.algorithms ?? null,
    };
    let accessToken: string;
    try {
      accessToken = await this.requestClientToken(clientId, clientSecret);
    } catch (err) {
      return { discovery, problems: [grantProblem(err)] };
    }
    const jws = parseCompactJws(accessToken);
    if (!jws) {
      const message = 'the directory answered with an access token that is not a JWT (an opaque or reference token): the broker reads the identity from a signed JWT';
      return { discovery, problems: [{ code: 'not_a_jwt', message }] };
    }
    const problems = expectationProblems(jws, { issuer: this.config.issuer, audience: cc.audience, algorithms: discovered.algorithms });
    // The signature alone, whatever the broker thinks of the algorithm or the claims.
    const signatureVerified = await compactVerify(accessToken, discovered.jwks).then(() => true, () => false);
    let identity: DirectoryIdentity | undefined;
    try {
      identity = await this.readClientToken(accessToken, clientId);
    } catch (err) {
      const refusal = tokenProblem(err, jws, isKeySetFailure, problems.length > 0);
      if (refusal && !problems.some((p) => p.code === refusal.code)) problems.push(refusal);
      // What the broker would read once the problems are fixed, so that the bindings can be judged already.
      identity = this.readableIdentity(jws.payload);
    }
    return { discovery, token: { ...jws, signatureVerified }, ...(identity ? { identity } : {}), problems };
  }

  private readableIdentity(payload: JWTPayload): DirectoryIdentity | undefined {
    try {
      return this.identityFrom(payload, (problem) => new OAuthError('server_error', problem));
    } catch {
      return undefined;
    }
  }

  private clientCredentials(): NonNullable<DirectoryConfig['client_credentials']> {
    const cc = this.config.client_credentials;
    if (!cc) throw new OAuthError('server_error', 'client credentials are not configured');
    return cc;
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

/** jose's audience refusal; it carries the whole payload, which is never logged: only its `aud` is named. */
function isAudienceMismatch(err: unknown): err is errors.JWTClaimValidationFailed & { payload: JWTPayload } {
  return err instanceof errors.JWTClaimValidationFailed && err.claim === 'aud';
}

/** A value as JSON for a log line, bounded (a caller's token may carry a huge `aud`). */
function shown(value: unknown): string {
  return value === undefined ? '(none)' : JSON.stringify(boundValue(value));
}

/** jose checks a future `iat` only together with `maxTokenAge`; we refuse one always. */
function issuedInTheFuture(payload: JWTPayload): boolean {
  return typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + CLOCK_TOLERANCE_SEC;
}
