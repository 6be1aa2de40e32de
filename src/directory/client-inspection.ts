import * as oidc from 'openid-client';
import { errors } from 'jose';
import { OAuthError } from '../errors/oauth-error.js';
import type { CompactJws } from '../tokens/compact-jws.js';
import type { BindingSubject } from '../policy/policy.js';
import { toDirectoryError } from './to-directory-error.js';

/**
 * What `directory check` learns from one client-credentials grant at a directory (`Directory.inspectClient`):
 * the facts as the directory sent them and every problem the broker has with them, instead of the first refusal.
 *
 * @example
 *   const seen = await directory.inspectClient('svc-etl', secret);
 *   seen.problems; // [{ code: 'audience_mismatch', expected: 'urn:airflow-token-broker', received: 'account', ... }]
 *   seen.token?.payload.realm_access; // the claims, read even when the broker refuses the token
 */
export interface ClientInspection {
  /**
   * What discovery found, absent when it failed: the token endpoint, the algorithms the directory says it signs
   * ID tokens with, and those the broker accepts on this path (null: any the directory's key fits).
   */
  discovery?: { tokenEndpoint: string | undefined; signingAlgorithms: readonly string[]; acceptedAlgorithms: readonly string[] | null };
  /** The directory's access token as read (never its signature), whether or not the broker accepts it. */
  token?: CompactJws & { signatureVerified: boolean };
  /**
   * The identity read from the token by the broker's rules, when its claims can be read. The broker uses it only
   * when `problems` is empty; otherwise it shows what the bindings would give once the problems are fixed.
   */
  identity?: BindingSubject & { issuer: string };
  /** Empty when the broker would accept this client at this directory. */
  problems: DirectoryProblem[];
}

/** A closed vocabulary: `directory check --json` consumers and the hints of its report rely on it. */
export type DirectoryProblemCode =
  /** Discovery or the token endpoint could not be reached, timed out, or answered 5xx or no metadata. */
  | 'directory_unreachable'
  /** The discovery document names another issuer than the config. */
  | 'discovery_issuer_mismatch'
  /** `invalid_client` (or 401): an unknown client or a wrong secret, which directories do not tell apart. */
  | 'client_refused'
  /** Any other refusal of the grant (`unauthorized_client`, `invalid_scope`, `invalid_target`...). */
  | 'grant_refused'
  | 'not_a_jwt'
  | 'issuer_mismatch'
  | 'audience_mismatch'
  | 'algorithm_not_allowed'
  | 'unknown_key'
  | 'signature_invalid'
  | 'key_set_unreadable'
  | 'expired'
  | 'not_yet_valid'
  /** The token names another client than the one that asked for it. */
  | 'other_client'
  /** Refused for another reason (issued in the future, a claim of the wrong shape, no subject); see `message`. */
  | 'token_refused';

export interface DirectoryProblem {
  code: DirectoryProblemCode;
  /** Plain words: what the broker saw. */
  message: string;
  expected?: unknown;
  received?: unknown;
}

export function discoveryProblem(issuer: string, err: unknown): DirectoryProblem {
  const comparison = findCause(err, (c): c is { attribute: string; body: { issuer?: unknown } } => isRecord(c) && c.attribute === 'issuer' && isRecord(c.body));
  if (comparison) {
    const received = comparison.body.issuer;
    return { code: 'discovery_issuer_mismatch', message: `the discovery document at ${issuer} names the issuer ${JSON.stringify(received)}, not the configured one`, expected: issuer, received };
  }
  const status = findCause(err, (c): c is Response => c instanceof Response)?.status;
  const why = status !== undefined ? `it answered HTTP ${status}` : causeText(err);
  return { code: 'directory_unreachable', message: `could not read the discovery document of ${issuer} (${why})` };
}

export function grantProblem(err: unknown): DirectoryProblem {
  const mapped = toDirectoryError(err);
  const answer = directoryAnswer(err);
  const said = answer.error === undefined ? `HTTP ${answer.status ?? 'no answer'}` : `${printable(answer.error)}${answer.description ? ` "${printable(answer.description)}"` : ''}`;
  if (mapped.code === 'invalid_client') {
    return { code: 'client_refused', message: `the directory refused the client id or secret (${said})` };
  }
  const dependencyFailed = answer.status === undefined || answer.status >= 500 || answer.error === 'temporarily_unavailable' || answer.error === 'server_error';
  if (dependencyFailed) return { code: 'directory_unreachable', message: `the directory's token endpoint failed (${answer.status === undefined ? causeText(err) : said})` };
  return { code: 'grant_refused', message: `the directory refused the client-credentials grant (${said})`, received: answer.error ?? answer.status };
}

/**
 * The broker's refusal of the token as a problem, unless `explained` (already named by `expectationProblems`)
 * and nothing more specific can be read from it. `isKeySetFailure` recognises the directory's key set failing.
 */
export function tokenProblem(err: unknown, jws: CompactJws, isKeySetFailure: (e: unknown) => boolean, explained: boolean): DirectoryProblem | undefined {
  const jose = findCause(err, (c): c is errors.JOSEError => c instanceof errors.JOSEError);
  const header = jws.header;
  if (jose instanceof errors.JWTExpired) return { code: 'expired', message: 'the token the directory just issued is already expired: check the clocks', received: jws.payload.exp };
  if (jose instanceof errors.JWTClaimValidationFailed) {
    if (jose.claim === 'iss') return issuerProblem(jose.payload.iss, undefined);
    if (jose.claim === 'aud') return audienceProblem(jose.payload.aud, undefined);
    if (jose.claim === 'nbf') return { code: 'not_yet_valid', message: 'the token is not valid yet (nbf): check the clocks', received: jose.payload.nbf };
    return { code: 'token_refused', message: `claim ${jose.claim}: ${jose.reason}` };
  }
  if (jose instanceof errors.JOSEAlgNotAllowed) return algorithmProblem(header.alg, undefined);
  if (jose instanceof errors.JWKSNoMatchingKey) {
    return { code: 'unknown_key', message: `no key of the directory's key set matches the token (kid ${JSON.stringify(header.kid)}, alg ${String(header.alg)})`, received: header.kid };
  }
  if (jose instanceof errors.JWSSignatureVerificationFailed) return { code: 'signature_invalid', message: 'the token signature does not verify with the directory key it names' };
  if (findCause(err, (c): c is unknown => isKeySetFailure(c)) !== undefined) return { code: 'key_set_unreadable', message: `the directory's key set could not be read (${causeText(err)})` };
  if (jose) return { code: 'token_refused', message: `the token could not be verified (${jose.message})` };
  if (err instanceof OAuthError && err.code === 'invalid_client') return { code: 'other_client', message: 'the token names another client than the one that asked for it' };
  return explained ? undefined : { code: 'token_refused', message: causeText(err) };
}

/**
 * What the config expects of the token, compared on its own: jose names only the first claim that fails, and a
 * refusal need not say which value it refused. Compares as jose does (exact `iss`; `aud` equal to or containing
 * the audience; `alg` in the allow-list, where the directory has one).
 */
export function expectationProblems(jws: CompactJws, expected: { issuer: string; audience: string; algorithms: readonly string[] | undefined }): DirectoryProblem[] {
  const problems: DirectoryProblem[] = [];
  const { payload, header } = jws;
  if (payload.iss !== expected.issuer) problems.push(issuerProblem(payload.iss, expected.issuer));
  const aud = payload.aud;
  if (!(aud === expected.audience || (Array.isArray(aud) && aud.includes(expected.audience)))) problems.push(audienceProblem(aud, expected.audience));
  if (expected.algorithms && !expected.algorithms.includes(String(header.alg))) problems.push(algorithmProblem(header.alg, expected.algorithms));
  return problems;
}

function algorithmProblem(received: unknown, expected: readonly string[] | undefined): DirectoryProblem {
  return { code: 'algorithm_not_allowed', message: `the token is signed with ${String(received)}, which the broker does not accept from this directory`, ...(expected ? { expected } : {}), received };
}

function issuerProblem(received: unknown, expected: string | undefined): DirectoryProblem {
  return { code: 'issuer_mismatch', message: `the token's iss is ${JSON.stringify(received)}; the broker compares it exactly with the configured issuer`, ...(expected ? { expected } : {}), received };
}

function audienceProblem(received: unknown, expected: string | undefined): DirectoryProblem {
  const sent = received === undefined ? 'carries no aud' : `has aud ${JSON.stringify(received)}`;
  return { code: 'audience_mismatch', message: `the token ${sent}, without the audience the broker expects`, ...(expected ? { expected } : {}), received };
}

/** The directory's own answer to the grant: its HTTP status and RFC 6749 error, where it gave one. */
function directoryAnswer(err: unknown): { status?: number; error?: string; description?: string } {
  const body = findCause(err, (c): c is oidc.ResponseBodyError => c instanceof oidc.ResponseBodyError);
  if (body) return { status: body.status, error: body.error, ...(body.error_description ? { description: body.error_description } : {}) };
  const challenge = findCause(err, (c): c is oidc.WWWAuthenticateChallengeError => c instanceof oidc.WWWAuthenticateChallengeError);
  if (challenge) {
    const params = challenge.cause[0]?.parameters;
    return { status: challenge.status, ...(params?.error ? { error: params.error } : {}), ...(params?.error_description ? { description: params.error_description } : {}) };
  }
  const response = findCause(err, (c): c is Response => c instanceof Response);
  return response ? { status: response.status } : {};
}

function findCause<T>(err: unknown, is: (c: unknown) => c is T): T | undefined {
  for (let c: unknown = err, depth = 0; c !== undefined && depth < 8; c = isRecord(c) ? c.cause : undefined, depth++) {
    if (is(c)) return c;
  }
  return undefined;
}

/** The messages along an error's cause chain ("fetch failed: connect ECONNREFUSED 127.0.0.1:9"), bounded. */
function causeText(err: unknown): string {
  const seen: string[] = [];
  for (let c: unknown = err, depth = 0; c !== undefined && depth < 8; c = isRecord(c) ? c.cause : undefined, depth++) {
    // Our own errors' texts are written for callers ("retry later"); the causes below them say what happened.
    const text = c instanceof Error && !(c instanceof OAuthError) ? c.message : undefined;
    if (text && !seen.includes(text)) seen.push(text);
  }
  return printable(seen.join(': ')) || 'no reason given';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Text from the directory or the network for a terminal: no control characters (escape sequences), bounded. */
function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '').slice(0, 300);
}
