import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { routeApiPath } from '../airflow/api-versions.js';
import type { MatchedOperation } from '../airflow/catalog/route-catalog.js';
import type { Caller } from '../airflow/credentials/upstream-credentials.js';
import { upstreamAcceptEncoding } from '../http/content-coding.js';
import { applyCors } from '../http/cors.js';
import { requestIdFrom } from '../http/request-context.js';
import { writeError } from '../http/write-error.js';
import { invalidRequest, OAuthError } from '../errors/oauth-error.js';
import type { AuditLog, DecisionAuditRecord } from '../observability/audit-log.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { KeyStore } from '../keys/key-store.js';
import { ALL, compilePrincipal } from '../policy/evaluator.js';
import type { PolicyStore } from '../policy/policy-store.js';
import type { AccessTokenClaims } from '../tokens/access-token.js';
import { InvalidTokenError, type RefusedTokenIdentity } from '../tokens/access-token-verifier.js';
import type { TokenRejection } from '../tokens/token-rejection.js';
import type { ProxyAuthenticator, VerifiedToken } from './authenticate.js';
import { allowPublic, permits, type Decision } from './authorize.js';
import { authorizeCall } from './authorize-call.js';
import { DecisionCache } from './decision-cache.js';
import { idLookups, type Deployment } from './deployments.js';
import { applyToEach, filteredList, permittedDagIds } from './list-filter.js';
import { isOpenApiDocumentPath, type ServeOpenApiDocument } from './openapi-document-endpoint.js';
import { checkOperationInput } from './operation-input.js';
import { refusal } from './refusal.js';
import { checkBodyFraming, parseJsonBody, readBody } from './request-body.js';
import { mayReadRunResults } from './run-results.js';
import { sendList } from './send-list.js';
import { forward, forwardBare, longPollBounds, proxyForbidden, type CallerCredentials, type RelayedCall } from './relay.js';
import { BadRequestTarget, checkRequestHeaders, parseRequestTarget } from './request-target.js';
import { unauthenticatedRoute } from './unauthenticated-route.js';
import type { SessionCaller } from './session-caller.js';

export interface ProxyServices {
  prefix: string;
  deployments: ReadonlyMap<string, Deployment>;
  authenticator: ProxyAuthenticator;
  policies: PolicyStore;
  airflowKeys: KeyStore;
  audit: AuditLog;
  logger: Logger;
  metrics: Metrics;
  /** `GET <prefix>/<deployment>/openapi.json`. */
  openApiDocument: ServeOpenApiDocument;
  /** People's sessions as callers, when `login` is configured. */
  sessions?: SessionCaller;
}

/** Request headers passed to Airflow: an allow-list. The caller's credentials, cookies and forwarding headers never are. */
const FORWARDED_REQUEST_HEADERS = ['accept', 'accept-language', 'content-type', 'if-match', 'if-none-match', 'if-modified-since'];
/** The proxy's errors also carry Airflow's `detail` member: Airflow's clients print it. */
const CHALLENGE = { scheme: 'Bearer', realm: 'airflow-token-broker', detail: true } as const;

/** What one request learned on its way through the pipeline, for the audit record. */
interface Trail {
  requestId: string;
  deployment: string;
  method: string;
  path: string;
  /** The verified token (its cached roles list lets the audit serialize the token's part once per token). */
  token?: VerifiedToken;
  decision?: Decision;
  /** A CORS preflight the proxy answered itself: no call, nothing to audit. */
  preflight?: true;
  /** The error code when the request ended before a decision. */
  error?: string;
  /** Why the token was refused, and whose it was when its signature verified. */
  rejection?: TokenRejection;
  refusedIdentity?: RefusedTokenIdentity;
  policyHash?: string;
}

/**
 * The proxy pipeline on a plain Node handler (no express stack on the hot path):
 * validate target -> pick deployment -> authenticate -> read body -> resolve operation -> authorize ->
 * swap credentials -> forward (or filter a list) -> audit.
 */
export function createProxyHandler(s: ProxyServices) {
  return function handleProxyRequest(req: IncomingMessage, res: ServerResponse): void {
    const requestId = requestIdFrom(req.headers['x-request-id']);
    const trail: Trail = { requestId, deployment: '', method: req.method ?? '', path: '' };
    res.setHeader('X-Request-Id', requestId);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    proxy(s, req, res, trail)
      .catch((err: unknown) => answerError(s, res, trail, err))
      .finally(() => trail.preflight || audit(s, trail, res));
  };
}

async function proxy(s: ProxyServices, req: IncomingMessage, res: ServerResponse, trail: Trail): Promise<void> {
  const target = parseRequestTarget(req.url ?? '');
  checkRequestHeaders(req.rawHeaders);
  const method = req.method ?? '';
  const [, name, ...rest] = target.segments;
  if (name === 'jwks.json' && rest.length === 0 && method === 'GET') return serveAirflowJwks(s, res);
  const deployment = name === undefined ? undefined : s.deployments.get(name);
  if (!deployment) throw new OAuthError('invalid_request', 'no such deployment', { status: 404 });
  trail.deployment = deployment.name;
  // A preflight carries no token: it is answered here, before authentication, and reaches nothing.
  if (deployment.cors && applyCors(res, deployment.cors, req)) return void (trail.preflight = true);
  if (isOpenApiDocumentPath(rest)) return s.openApiDocument(deployment, req, res, trail);
  const routed = routeApiPath(rest);
  // A deployment serves its own API version only (and what that version serves alongside, FAB's `/auth/fab/v1` for
  // v2): `/api/v2` on an Airflow 2 upstream is not found, and vice versa; so is the rest of `/auth`.
  if (!routed || routed.api !== deployment.api || routed.apiPath === '') {
    throw new OAuthError('invalid_request', `only ${deployment.api.root} is proxied`, { status: 404 });
  }
  const { apiPath, surface } = routed;
  trail.path = apiPath;
  checkBodyFraming(method, req.headers);
  // The caller going away aborts the proxy's own lookups and scans at Airflow (the forwarded call is aborted by
  // the relay itself): the signal exists only once such a call is made.
  const signal = abortedOnClose(res);
  const upstreamPath = '/' + rest.join('/') + (target.query ? `?${target.query}` : '');
  // Before any token: a method the catalog has not for this path is 405; a public operation is served bare.
  const routedCall = unauthenticatedRoute(surface, method, apiPath);
  if (routedCall.public) return servePublic(s, deployment, req, res, { path: upstreamPath, query: target.params, matches: routedCall.matches }, trail);

  // A Bearer caller (the hot path) never reaches the session step: no store read, no promise, no closure.
  const bearer = req.headers.authorization;
  const authorization = bearer === undefined && s.sessions ? await s.sessions.authorization(req, deployment, (who) => (trail.refusedIdentity = who)) : bearer;
  trail.token = await s.authenticator.verifiedToken(authorization, deployment.audience);
  const claims = trail.token.claims;
  const raw = await readBody(req, deployment.maxBodyBytes);
  const body = parseJsonBody(raw, req.headers['content-type']);

  const policy = s.policies.current(); // one version for the whole request
  trail.policyHash = policy.hash;
  const principal = principalFor(policy, deployment.name, claims.scope, trail.token.roles, claims.authorization_details);
  // A role limited to other deployments lends no Airflow role here either (a token issued before the policy changed).
  // The verified payload is handed on as it is (read-only to the credentials): no copy per request.
  const credentials = callerCredentials(deployment, { subject: claims.sub, clientId: claims.client_id, roles: principal.rolesHere, policy, claims: claims as unknown as Caller['claims'] });

  const call = { method, apiPath, query: target.params, body: body.json };
  const { decision } = await authorizeCall(surface.catalog, principal, call, idLookups(deployment, credentials.current, signal), routedCall.matches, claims.authorization_details ? undefined : decisions);
  trail.decision = decision;
  if (!decision.allowed) throw refusal(decision, { method, path: surface.root + apiPath });

  const filter = decision.filter;
  if (!filter) {
    const resolved = decision.operation;
    const longPoll = resolved?.operation.longPoll ? longPollBounds(deployment.config.timeouts, target.params, mayReadRunResults(principal, resolved)) : undefined;
    return forward(deployment, upstreamCall(req, res, upstreamPath, body.raw), credentials, res, longPoll);
  }
  const scan = {
    client: deployment.client,
    apiRoot: deployment.api.root,
    authorization: await credentials.current(),
    scanLimit: deployment.config.list_scan_limit,
    paging: surface.paging,
    signal: signal(),
    refused: (authorization: string) => void deployment.credentials.invalidate(authorization),
    forbidden: (authorization: string) => proxyForbidden(deployment, authorization),
  };
  if (filter.operation.batch) {
    const ids = await permittedDagIds(scan, (id) => permits(principal, filter.operation, id));
    if (ids.length === 0) return sendJson(res, 200, { [filter.list?.itemsKey ?? 'items']: [], total_entries: 0 });
    const rewritten = Buffer.from(JSON.stringify({ ...(body.json as object), [filter.operation.batch.bodyField]: ids }));
    return forward(deployment, upstreamCall(req, res, upstreamPath, rewritten, 'application/json'), credentials, res);
  }
  if (!filter.list) {
    const refused = { interpretation: decision.operation!, check: decision.verdicts.find((v) => !v.allowed)?.check };
    throw refusal({ reason: 'no-matching-grant', refused }, { method, path: surface.root + apiPath });
  }
  const keep = (id: string) => permits(principal, filter.operation, id);
  const result = filter.list.each
    ? await applyToEach(scan, `${surface.root}${apiPath}`, target.query, filter.list, keep, method as Dispatcher.HttpMethod, body.json)
    : await filteredList(scan, `${surface.root}${apiPath}`, target.query, filter.list, keep);
  return sendList(res, result.status, result.body, req.headers['accept-encoding']);
}

/**
 * A public operation (`public: true`: Airflow's version and health): served to anyone, and Airflow gets no
 * credentials, neither the caller's nor the proxy's; its answer is relayed as it is. A token sent along is verified
 * for the audit only (whose it is, or why it was refused), never required.
 */
async function servePublic(
  s: ProxyServices,
  deployment: Deployment,
  req: IncomingMessage,
  res: ServerResponse,
  call: { path: string; query: URLSearchParams; matches: MatchedOperation[] },
  trail: Trail,
): Promise<void> {
  checkOperationInput(call.matches, call.query, (await readBody(req, deployment.maxBodyBytes)).length > 0);
  if (req.headers.authorization !== undefined) await identifyForAudit(s, req.headers.authorization, deployment, trail);
  trail.decision = allowPublic({ operation: call.matches[0]!.operation, kind: 'public' });
  await forwardBare(deployment.client, upstreamCall(req, res, call.path, Buffer.alloc(0)), res);
}

async function identifyForAudit(s: ProxyServices, authorization: string, deployment: Deployment, trail: Trail): Promise<void> {
  try {
    trail.token = await s.authenticator.verifiedToken(authorization, deployment.audience);
  } catch (err) {
    // Nothing about the token changes the answer, not even a revocation store that cannot be read.
    if (err instanceof InvalidTokenError) {
      trail.rejection = err.rejection;
      trail.refusedIdentity = err.identity;
    }
  }
}

function abortedOnClose(res: ServerResponse): () => AbortSignal {
  let signal: AbortSignal | undefined;
  return () => {
    if (signal) return signal;
    const controller = new AbortController();
    signal = controller.signal;
    const closed = () => {
      if (!res.writableFinished) controller.abort();
    };
    // Asked for after the caller left: already aborted.
    if (res.closed) closed();
    else res.once('close', closed);
    return signal;
  };
}

function callerCredentials(deployment: Deployment, caller: Caller): CallerCredentials {
  let current: Promise<string> | undefined;
  return {
    current: () => (current ??= deployment.credentials.authorization(caller)),
    fresh: () => deployment.credentials.authorization(caller),
  };
}

/** One call to Airflow on the caller's behalf, as it is sent; the proxy's `authorization` is added per try. */
function upstreamCall(req: IncomingMessage, res: ServerResponse, path: string, body: Buffer, contentType?: string): RelayedCall {
  // Only codings the proxy can decode: it must be able to read a refusal (`relay.ts`).
  const headers: Record<string, string> = { 'x-request-id': res.getHeader('X-Request-Id') as string, 'accept-encoding': upstreamAcceptEncoding(req.headers['accept-encoding']) };
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = req.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  // Set when the proxy rewrote the body: it then says what it sends.
  if (contentType) headers['content-type'] = contentType;
  // The upstream path is the validated raw segments appended to the base: never re-resolved.
  return { method: req.method as Dispatcher.HttpMethod, path, headers, body: body.length > 0 ? body : undefined };
}

/**
 * Decisions of calls that read only their path, per compiled principal (so per policy version): `DecisionCache`.
 * Not for narrowed tokens: their principal is compiled per request, so an entry would never be read again.
 */
const decisions = new DecisionCache();

/**
 * Tokens without narrowing share a compiled principal per policy version, deployment and scope (a handful of role
 * sets); narrowed tokens are compiled per request. A new policy version starts a new cache.
 */
const compiledByPolicy = new WeakMap<object, Map<string, ReturnType<typeof compilePrincipal>>>();
function principalFor(policy: Parameters<typeof compilePrincipal>[0], deployment: string, scope: string, roles: readonly string[], details: AccessTokenClaims['authorization_details']) {
  if (details) return compilePrincipal(policy, { roles, details }, deployment);
  let byScope = compiledByPolicy.get(policy);
  if (!byScope) compiledByPolicy.set(policy, (byScope = new Map()));
  const key = `${deployment} ${scope}`; // deployment names have no space
  let compiled = byScope.get(key);
  if (!compiled) {
    compiled = compilePrincipal(policy, { roles, details: undefined }, deployment);
    if (byScope.size < 1_000) byScope.set(key, compiled);
  }
  return compiled;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body ?? null);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function serveAirflowJwks(s: ProxyServices, res: ServerResponse): void {
  // Airflow already holds the set up to an hour; no cache in between may add to that, nor serve a withdrawn key
  // to an API server restarted in an emergency (docs/operations.md).
  res.setHeader('Cache-Control', 'no-store');
  sendJson(res, 200, s.airflowKeys.publicJwks());
}

function answerError(s: ProxyServices, res: ServerResponse, trail: Trail, err: unknown): void {
  const mapped = err instanceof BadRequestTarget ? invalidRequest(`bad request: ${err.reason}`) : err;
  if (err instanceof InvalidTokenError) {
    trail.rejection = err.rejection;
    trail.refusedIdentity = err.identity;
  }
  trail.error = writeError(res, mapped, CHALLENGE, s.logger.child({ request_id: trail.requestId }));
}

function audit(s: ProxyServices, trail: Trail, res: ServerResponse): void {
  const d = trail.decision;
  const primary = d?.operation;
  const op = primary?.operation;
  const record: DecisionAuditRecord = {
    event: 'proxy_decision',
    request_id: trail.requestId,
    deployment: trail.deployment,
    client_id: trail.token?.claims.client_id ?? trail.refusedIdentity?.client_id,
    sub: trail.token?.claims.sub ?? trail.refusedIdentity?.sub,
    roles: trail.token?.roles,
    method: trail.method,
    path: trail.path,
    operation: op?.name,
    resource: op && op.access === 'policy' ? op.resource : undefined,
    action: op && op.access === 'policy' ? op.action : undefined,
    resource_ids: primary && primary.kind === 'checks' ? primary.checks.map((c) => (c.id === ALL ? '*' : c.id)) : [],
    decision: d?.allowed ? 'allow' : 'deny',
    reason: d?.reason ?? trail.error ?? 'unknown',
    rule: d?.rule ? { role: d.rule.role, effect: d.rule.effect, index: d.rule.index } : undefined,
    filtered: d?.filter !== undefined,
    policy_hash: trail.policyHash ?? s.policies.current().hash,
    upstream_status: d?.allowed ? res.statusCode : undefined,
    token_rejection: trail.rejection,
  };
  s.audit.decision(record);
  if (trail.deployment) s.metrics.countProxyDecision(trail.deployment, record.filtered ? 'filtered' : record.decision);
}
