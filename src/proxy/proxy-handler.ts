import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
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
import type { ProxyAuthenticator } from './authenticate.js';
import { permits, type Decision } from './authorize.js';
import { authorizeCall } from './authorize-call.js';
import { idLookups, type Deployment } from './deployments.js';
import { applyToEach, filteredList, permittedDagIds } from './list-filter.js';
import { parseJsonBody, readBody } from './request-body.js';
import { BadRequestTarget, checkRequestHeaders, parseRequestTarget } from './request-target.js';

export interface ProxyServices {
  prefix: string;
  deployments: ReadonlyMap<string, Deployment>;
  authenticator: ProxyAuthenticator;
  policies: PolicyStore;
  airflowKeys: KeyStore;
  audit: AuditLog;
  logger: Logger;
  metrics: Metrics;
}

/** Request headers passed to Airflow: an allow-list. The caller's credentials, cookies and forwarding headers never are. */
const FORWARDED_REQUEST_HEADERS = ['accept', 'accept-language', 'content-type', 'if-match', 'if-none-match', 'if-modified-since'];
/** Response headers passed back to the caller: an allow-list (no Set-Cookie, no Location, no Server). */
const FORWARDED_RESPONSE_HEADERS = ['content-type', 'content-length', 'content-encoding', 'content-language', 'cache-control', 'etag', 'last-modified', 'vary', 'retry-after', 'expires'];
const CHALLENGE = { scheme: 'Bearer', realm: 'airflow-token-broker' } as const;

/** What one request learned on its way through the pipeline, for the audit record. */
interface Trail {
  requestId: string;
  deployment: string;
  method: string;
  path: string;
  claims?: AccessTokenClaims;
  roles?: string[];
  decision?: Decision;
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
      .finally(() => audit(s, trail, res));
  };
}

async function proxy(s: ProxyServices, req: IncomingMessage, res: ServerResponse, trail: Trail): Promise<void> {
  const target = parseRequestTarget(req.url ?? '');
  checkRequestHeaders(req.rawHeaders);
  const [, name, ...rest] = target.segments;
  if (name === 'jwks.json' && rest.length === 0 && req.method === 'GET') return serveAirflowJwks(s, res);
  const deployment = name === undefined ? undefined : s.deployments.get(name);
  if (!deployment) throw new OAuthError('invalid_request', 'no such deployment', { status: 404 });
  trail.deployment = deployment.name;
  const root = deployment.api.rootSegments;
  if (rest.length <= root.length || root.some((segment, i) => rest[i] !== segment)) {
    throw new OAuthError('invalid_request', `only ${deployment.api.root} is proxied`, { status: 404 });
  }
  const apiPath = '/' + rest.slice(root.length).join('/');
  trail.path = apiPath;

  const claims = await s.authenticator.authenticate(req.headers.authorization, deployment.audience);
  trail.claims = claims;
  const body = parseJsonBody(await readBody(req, deployment.maxBodyBytes), req.headers['content-type']);

  const policy = s.policies.current(); // one version for the whole request
  trail.policyHash = policy.hash;
  const roles = (trail.roles = claims.scope.split(' '));
  const principal = principalFor(policy, claims.scope, roles, claims.authorization_details);
  const caller = { subject: claims.sub, clientId: claims.client_id, roles, policy };
  let upstreamAuth: Promise<string> | undefined;
  const authorization = () => (upstreamAuth ??= deployment.credentials.authorization(caller));
  const freshAuthorization = () => deployment.credentials.authorization(caller);

  const call = { method: req.method ?? '', apiPath, query: new URLSearchParams(target.query), body: body.json };
  const { decision } = await authorizeCall(deployment.api.catalog, principal, call, idLookups(deployment, authorization));
  trail.decision = decision;
  if (!decision.allowed) {
    throw new OAuthError('insufficient_scope', 'the token does not allow this call', { extra: { reason: decision.reason } });
  }

  const scan = { client: deployment.client, apiRoot: deployment.api.root, authorization: await authorization(), scanLimit: deployment.config.list_scan_limit };
  const filter = decision.filter;
  if (filter && filter.operation.batch) {
    const ids = await permittedDagIds(scan, (id) => permits(principal, filter.operation, id));
    if (ids.length === 0) return sendJson(res, 200, { [filter.list?.itemsKey ?? 'items']: [], total_entries: 0 });
    const rewritten = Buffer.from(JSON.stringify({ ...(body.json as object), [filter.operation.batch.bodyField]: ids }));
    return forward(deployment, req, res, target.query, rest, rewritten, authorization, freshAuthorization, 'application/json');
  }
  if (filter) {
    if (!filter.list) throw new OAuthError('insufficient_scope', 'the token does not allow this call', { extra: { reason: 'no-matching-grant' } });
    const keep = (id: string) => permits(principal, filter.operation, id);
    if (filter.list.each) {
      const result = await applyToEach(scan, `${deployment.api.root}${apiPath}`, target.query, filter.list, keep, req.method as Dispatcher.HttpMethod, body.json);
      return sendJson(res, result.status, result.body);
    }
    const result = await filteredList(scan, `${deployment.api.root}${apiPath}`, target.query, filter.list, keep);
    return sendJson(res, result.status, result.body);
  }
  return forward(deployment, req, res, target.query, rest, body.raw, authorization, freshAuthorization);
}

/**
 * Tokens without narrowing share a compiled principal per policy version and scope (a handful of role sets);
 * narrowed tokens are compiled per request. A new policy version starts a new cache.
 */
const compiledByPolicy = new WeakMap<object, Map<string, ReturnType<typeof compilePrincipal>>>();
function principalFor(policy: Parameters<typeof compilePrincipal>[0], scope: string, roles: string[], details: AccessTokenClaims['authorization_details']) {
  if (details) return compilePrincipal(policy, { roles, details });
  let byScope = compiledByPolicy.get(policy);
  if (!byScope) compiledByPolicy.set(policy, (byScope = new Map()));
  let compiled = byScope.get(scope);
  if (!compiled) {
    compiled = compilePrincipal(policy, { roles, details: undefined });
    if (byScope.size < 1_000) byScope.set(scope, compiled);
  }
  return compiled;
}

async function forward(
  deployment: Deployment,
  req: IncomingMessage,
  res: ServerResponse,
  query: string,
  rest: readonly string[],
  body: Buffer,
  authorization: () => Promise<string>,
  freshAuthorization: () => Promise<string>,
  /** Set when the proxy rewrote the body: it then says what it sends. */
  contentType?: string,
): Promise<void> {
  // The upstream path is the validated raw segments appended to the base: never re-resolved.
  const path = '/' + rest.join('/') + (query ? `?${query}` : '');
  const send = async (auth: string) => {
    const headers: Record<string, string> = { authorization: auth, 'x-request-id': res.getHeader('X-Request-Id') as string };
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    if (contentType) headers['content-type'] = contentType;
    return deployment.client.request((req.method ?? 'GET') as Dispatcher.HttpMethod, path, headers, body.length > 0 ? body : undefined);
  };
  let upstream = await send(await authorization());
  if (upstream.statusCode === 401 && deployment.credentials.invalidate()) {
    await upstream.body.dump();
    upstream = await send(await freshAuthorization());
  }
  if (upstream.statusCode === 401) {
    // The caller's token was fine (we checked it); Airflow refused the proxy's own credentials.
    await upstream.body.dump();
    throw new OAuthError('upstream_error', 'Airflow refused the proxy\'s credentials');
  }
  res.statusCode = upstream.statusCode;
  for (const name of FORWARDED_RESPONSE_HEADERS) {
    const value = upstream.headers[name];
    if (value !== undefined) res.setHeader(name, value);
  }
  const length = Number(upstream.headers['content-length']);
  // Small bodies in one write: cheaper than a stream pipeline per request on the hot path.
  if (length <= SMALL_BODY) res.end(Buffer.from(await upstream.body.arrayBuffer()));
  else await stream(upstream.body, res);
}

const SMALL_BODY = 64 * 1024;

/** Streams a large or unsized body; a client that goes away stops the upstream read. */
function stream(body: Dispatcher.ResponseData['body'], res: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    body.on('error', reject);
    res.on('close', () => {
      if (!body.destroyed) body.destroy();
      resolve();
    });
    body.pipe(res);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body ?? null);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function serveAirflowJwks(s: ProxyServices, res: ServerResponse): void {
  res.setHeader('Cache-Control', 'public, max-age=300');
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
    client_id: trail.claims?.client_id ?? trail.refusedIdentity?.client_id,
    sub: trail.claims?.sub ?? trail.refusedIdentity?.sub,
    roles: trail.roles,
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
  if (trail.deployment) s.metrics.proxyDecisions.inc({ deployment: trail.deployment, decision: record.filtered ? 'filtered' : record.decision });
}
