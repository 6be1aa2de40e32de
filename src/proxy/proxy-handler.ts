import type { IncomingMessage, ServerResponse } from 'node:http';
import { routeApiPath, type ApiSurface } from '../airflow/api-versions.js';
import type { MatchedOperation } from '../airflow/catalog/route-catalog.js';
import type { Caller } from '../airflow/credentials/upstream-credentials.js';
import { applyCors } from '../http/cors.js';
import { requestIdFrom } from '../http/request-context.js';
import { writeError } from '../http/write-error.js';
import { invalidRequest, OAuthError } from '../errors/oauth-error.js';
import type { AuditLog } from '../observability/audit-log.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { KeyStore } from '../keys/key-store.js';
import type { CompiledPrincipal } from '../policy/evaluator.js';
import type { PolicyStore } from '../policy/policy-store.js';
import { InvalidTokenError } from '../tokens/access-token-verifier.js';
import type { ProxyAuthenticator, VerifiedToken } from './authenticate.js';
import { allowPublic, type Decision } from './authorize.js';
import { authorizeCall } from './authorize-call.js';
import { DecisionCache } from './decision-cache.js';
import { idLookups, type Deployment } from './deployments.js';
import { answerFiltered } from './filtered-answer.js';
import { isOpenApiDocumentPath, type ServeOpenApiDocument } from './openapi-document-endpoint.js';
import { checkOperationInput } from './operation-input.js';
import { principalOf } from './principal-of.js';
import { auditProxyCall, type ProxyTrail } from './proxy-trail.js';
import { refusal } from './refusal.js';
import { checkBodyFraming, parseJsonBody, readBody, type RequestBody } from './request-body.js';
import { mayReadRunResults } from './run-results.js';
import { sendJson } from './send-list.js';
import { forward, forwardBare, longPollBounds, type CallerCredentials } from './relay.js';
import { BadRequestTarget, checkRequestHeaders, parseRequestTarget, type RequestTarget } from './request-target.js';
import { unauthenticatedRoute } from './unauthenticated-route.js';
import { abortedOnClose, callerCredentials, upstreamCall } from './upstream-call.js';
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

/** The proxy's errors also carry Airflow's `detail` member: Airflow's clients print it. */
const CHALLENGE = { scheme: 'Bearer', realm: 'airflow-token-broker', detail: true } as const;

/**
 * The proxy on a plain Node handler (no express stack on the hot path). A call goes through the stages of
 * `proxy()` in order; whatever ends it (an answer or an error, written by `answerError` only), the audit follows.
 */
export function createProxyHandler(s: ProxyServices) {
  return function handleProxyRequest(req: IncomingMessage, res: ServerResponse): void {
    const requestId = requestIdFrom(req.headers['x-request-id']);
    const trail: ProxyTrail = { requestId, deployment: '', method: req.method ?? '', path: '' };
    res.setHeader('X-Request-Id', requestId);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    proxy(s, req, res, trail)
      .catch((err: unknown) => answerError(s, res, trail, err))
      .finally(() => auditProxyCall(s, trail, res));
  };
}

/** One call, stage by stage: target, route, authenticate, read the body, authorize, upstream and answer (then audit). */
async function proxy(s: ProxyServices, req: IncomingMessage, res: ServerResponse, trail: ProxyTrail): Promise<void> {
  const target = checkedTarget(req);
  const route = routeCall(s, req, res, target, trail);
  if ('served' in route) return route.served;
  const token = await authenticate(s, req, route.deployment, trail);
  const body = parseJsonBody(await readBody(req, route.deployment.maxBodyBytes), req.headers['content-type']);
  const authorized = await authorize(s, route, token, body, res, trail);
  return answer(req, res, route, body, authorized);
}

/** An API call routed to its deployment and API surface, matched by the catalog before any token is read. */
interface ApiRoute {
  deployment: Deployment;
  surface: ApiSurface;
  method: string;
  /** Below the API root (validated, still percent-encoded): what the decision and the audit read. */
  apiPath: string;
  target: RequestTarget;
  /** What Airflow is sent: the validated raw segments below the deployment, and the raw query. */
  upstreamPath: string;
  matches: MatchedOperation[];
}

/** What the authorize stage decided, and who the call goes to Airflow as. */
interface AuthorizedCall {
  principal: CompiledPrincipal;
  decision: Decision;
  credentials: CallerCredentials;
  signal: () => AbortSignal;
}

/** Stage 1, target: the exact path bytes and the headers that could be read otherwise upstream (`request-target.ts`). */
function checkedTarget(req: IncomingMessage): RequestTarget {
  const target = parseRequestTarget(req.url ?? '');
  checkRequestHeaders(req.rawHeaders);
  return target;
}

/**
 * Stage 2, route: the deployment and its API, then what is answered before any token (Airflow's key set, a CORS
 * preflight, the OpenAPI document, a public operation) or refused (405 for a method the catalog has not there).
 */
function routeCall(s: ProxyServices, req: IncomingMessage, res: ServerResponse, target: RequestTarget, trail: ProxyTrail): ApiRoute | { served: Promise<void> | void } {
  const method = req.method ?? '';
  const [, name, ...rest] = target.segments;
  if (name === 'jwks.json' && rest.length === 0 && method === 'GET') return { served: serveAirflowJwks(s, res) };
  const deployment = name === undefined ? undefined : s.deployments.get(name);
  if (!deployment) throw new OAuthError('invalid_request', 'no such deployment', { status: 404 });
  trail.deployment = deployment.name;
  // A preflight carries no token: it is answered here, before authentication, and reaches nothing.
  if (deployment.cors && applyCors(res, deployment.cors, req)) return { served: void (trail.preflight = true) };
  if (isOpenApiDocumentPath(rest)) return { served: s.openApiDocument(deployment, req, res, trail) };
  const routed = routeApiPath(rest);
  // A deployment serves its own API version only (and what that version serves alongside, FAB's `/auth/fab/v1` for
  // v2): `/api/v2` on an Airflow 2 upstream is not found, and vice versa; so is the rest of `/auth`.
  if (!routed || routed.api !== deployment.api || routed.apiPath === '') {
    throw new OAuthError('invalid_request', `only ${deployment.api.root} is proxied`, { status: 404 });
  }
  const { apiPath, surface } = routed;
  trail.path = apiPath;
  checkBodyFraming(method, req.headers);
  const upstreamPath = '/' + rest.join('/') + (target.query ? `?${target.query}` : '');
  const matched = unauthenticatedRoute(surface, method, apiPath);
  if (matched.public) return { served: servePublic(s, deployment, req, res, { path: upstreamPath, query: target.params, matches: matched.matches }, trail) };
  return { deployment, surface, method, apiPath, target, upstreamPath, matches: matched.matches };
}

/** Stage 3, authenticate: the caller's token (or a person's session, exchanged for one), verified for this deployment. */
async function authenticate(s: ProxyServices, req: IncomingMessage, deployment: Deployment, trail: ProxyTrail): Promise<VerifiedToken> {
  // A Bearer caller (the hot path) never reaches the session step: no store read, no promise, no closure.
  const bearer = req.headers.authorization;
  const authorization = bearer === undefined && s.sessions ? await s.sessions.authorization(req, deployment, (who) => (trail.refusedIdentity = who)) : bearer;
  return (trail.token = await s.authenticator.verifiedToken(authorization, deployment.audience));
}

/**
 * Stage 4, authorize: one policy version for the whole call, the token's principal under it, and the decision
 * (`authorizeCall`, shared with `explain`). A refusal ends the call here.
 */
async function authorize(s: ProxyServices, route: ApiRoute, token: VerifiedToken, body: RequestBody, res: ServerResponse, trail: ProxyTrail): Promise<AuthorizedCall> {
  const { deployment, surface, method, apiPath } = route;
  const policy = s.policies.current();
  trail.policyHash = policy.hash;
  const principal = principalOf(token, policy, deployment.name);
  // A role limited to other deployments lends no Airflow role here either (a token issued before the policy changed).
  // The verified payload is handed on as it is (read-only to the credentials): no copy per request.
  const claims = token.claims;
  const credentials = callerCredentials(deployment, { subject: claims.sub, clientId: claims.client_id, roles: principal.rolesHere, policy, claims: claims as unknown as Caller['claims'] });
  const signal = abortedOnClose(res);
  const call = { method, apiPath, query: route.target.params, body: body.json };
  const { decision } = await authorizeCall(surface.catalog, principal, call, idLookups(deployment, credentials.current, signal), route.matches, decisions);
  trail.decision = decision;
  if (!decision.allowed) throw refusal(decision, { method, path: surface.root + apiPath });
  return { principal, decision, credentials, signal };
}

/** Stages 5 and 6, upstream and answer: forwarded as it is, or answered item by item (`answerFiltered`). */
function answer(req: IncomingMessage, res: ServerResponse, route: ApiRoute, body: RequestBody, authorized: AuthorizedCall): Promise<void> {
  const { decision, principal, credentials } = authorized;
  const { deployment, target } = route;
  const filter = decision.filter;
  if (filter) return answerFiltered(req, res, { ...route, ...authorized, rawQuery: target.query, body, filter });
  const resolved = decision.operation;
  const longPoll = resolved?.operation.longPoll ? longPollBounds(deployment.config.timeouts, target.params, mayReadRunResults(principal, resolved)) : undefined;
  return forward(deployment, upstreamCall(req, res, route.upstreamPath, body.raw), credentials, res, longPoll);
}

/** Decisions of calls that read only their path, per compiled principal (so per policy version): `DecisionCache`. */
const decisions = new DecisionCache();

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
  trail: ProxyTrail,
): Promise<void> {
  checkOperationInput(call.matches, call.query, (await readBody(req, deployment.maxBodyBytes)).length > 0);
  if (req.headers.authorization !== undefined) await identifyForAudit(s, req.headers.authorization, deployment, trail);
  trail.decision = allowPublic({ operation: call.matches[0]!.operation, kind: 'public' });
  await forwardBare(deployment.client, upstreamCall(req, res, call.path, Buffer.alloc(0)), res);
}

async function identifyForAudit(s: ProxyServices, authorization: string, deployment: Deployment, trail: ProxyTrail): Promise<void> {
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

function serveAirflowJwks(s: ProxyServices, res: ServerResponse): void {
  // Airflow already holds the set up to an hour; no cache in between may add to that, nor serve a withdrawn key
  // to an API server restarted in an emergency (docs/operations.md).
  res.setHeader('Cache-Control', 'no-store');
  sendJson(res, 200, s.airflowKeys.publicJwks());
}

/** The one place a proxy call's error becomes its answer (`writeError`), noting why a token was refused. */
function answerError(s: ProxyServices, res: ServerResponse, trail: ProxyTrail, err: unknown): void {
  const mapped = err instanceof BadRequestTarget ? invalidRequest(`bad request: ${err.reason}`) : err;
  if (err instanceof InvalidTokenError) {
    trail.rejection = err.rejection;
    trail.refusedIdentity = err.identity;
  }
  trail.error = writeError(res, mapped, CHALLENGE, s.logger.child({ request_id: trail.requestId }));
}
