import { apiVersions, routeApiPath, type ApiSurface, type ApiVersion, type ApiVersionName } from '../airflow/api-versions.js';
import { ALL, compilePrincipal, matchesElsewhere, ruleRef, type Check, type Principal, type Reason, type RuleRef } from '../policy/evaluator.js';
import type { Policy } from '../policy/policy.js';
import { OAuthError } from '../errors/oauth-error.js';
import { authorizeCall } from '../proxy/authorize-call.js';
import { refusal } from '../proxy/refusal.js';
import { unauthenticatedRoute } from '../proxy/unauthenticated-route.js';
import { parseRequestTarget } from '../proxy/request-target.js';
import type { IdLookups } from '../proxy/resolve-checks.js';

/**
 * A call as an admin writes it: the path below the API root, with the root (`/api/v2/...`, `/api/v1/...`), or the
 * proxy's whole path (`/airflow/<upstream>/api/v1/...`).
 */
export interface CallToExplain {
  method: string;
  path: string;
  body?: unknown;
  /** The deployment (upstream name) to decide on, when the path does not name it (`/airflow/<upstream>/...`). */
  deployment?: string;
}

export type Verdict = 'allow' | 'filter' | 'deny';

/** A rule as the explanation shows it: the decision's reference plus the grant it points at. */
export interface RuleReport extends RuleRef {
  kind: string | undefined;
  actions: string[];
}

export interface CheckReport {
  resource: string;
  action: string;
  /** The resource id; `null` with `all: true` when the check is on every resource of the kind. */
  id: string | null;
  all: boolean;
  allowed: boolean;
  reason: Reason;
  rule: RuleReport | null;
}

/** One operation the path can mean (several when Airflow's routes overlap; every one must be allowed). */
export interface OperationReport {
  operationId: string;
  method: string;
  template: string;
  access: 'public' | 'never' | 'policy';
  /** Served without a token (Airflow's version and health). */
  public?: true;
  resource?: string;
  action?: string;
  /** The resource ids checked; `null` stands for every resource of the kind. */
  resourceIds?: Array<string | null>;
  /** Why the ids could not be determined (the proxy then denies). */
  unresolved?: string;
}

export interface Explanation {
  /**
   * `upstream`: the deployment decided on (from the path or the call's `deployment`), `null` when none is named.
   * `api` is the deployment's API version, `root` the root of the API the path is below (`/api/v2`, or FAB's
   * `/auth/fab/v1` on a v2 deployment).
   */
  request: { method: string; apiPath: string; query: string; upstream: string | null; api: ApiVersionName; root: string };
  roles: string[];
  verdict: Verdict;
  decision: { allowed: boolean; filtered: boolean; reason: Reason; rule: RuleReport | null };
  /** For a denial: the 403 body the proxy answers (`error`, `error_description`, `operation`, `resource`, ...). */
  refusal?: Record<string, string>;
  operations: OperationReport[];
  checks: CheckReport[];
  notes: string[];
}

/** Thrown for a path the proxy would refuse before any decision (400/404), or a path that is not an API path. */
export class UnexplainableCall extends Error {}

/** The API version of each configured upstream (`upstreams.<name>.api`); an upstream not named is `v2`. */
export type UpstreamApis = Readonly<Record<string, ApiVersionName>>;

/** The API versions of a config's upstreams, for `explainCall`. */
export const upstreamApis = (upstreams: Readonly<Record<string, { api: ApiVersionName }>>): UpstreamApis =>
  Object.fromEntries(Object.entries(upstreams).map(([name, up]) => [name, up.api]));

/** Offline there is no Airflow to ask, so a lookup finds nothing, as when Airflow does not know the id. */
function offlineLookups(asked: string[]): IdLookups {
  return {
    backfillDag(backfillId) {
      asked.push(backfillId);
      return Promise.resolve(undefined);
    },
  };
}

/**
 * Normalises an admin's path to what the proxy's decision sees: `/dags/x`, `/api/v2/dags/x` and
 * `/airflow/prod/api/v2/dags/x` all mean `/dags/x`, routed as the proxy routes (`routeApiPath`; FAB's
 * `/auth/fab/v1/users` is below its own root, `surface`); `version` is
 * the API root the path names, `null` for a bare path. The whole target is validated as the proxy validates it.
 */
export function apiPathOf(path: string): { apiPath: string; query: string; upstream: string | null; version: ApiVersionName | null } {
  const { surface: _surface, ...named } = routedPathOf(path);
  return named;
}

/** `apiPathOf` and the API the path is below (`surface`: `/api/v2`, FAB's `/auth/fab/v1`; `null` for a bare path). */
function routedPathOf(path: string): ReturnType<typeof apiPathOf> & { surface: ApiSurface | null } {
  let target;
  try {
    target = parseRequestTarget(path.replace(/^https?:\/\/[^/?#]+/i, ''));
  } catch (err) {
    throw new UnexplainableCall(`the proxy refuses this path: ${(err as Error).message}`);
  }
  const s = target.segments;
  const direct = routeApiPath(s);
  const proxied = direct ? undefined : routeApiPath(s.slice(2));
  const routed = direct ?? proxied;
  if (routed?.apiPath === '') throw new UnexplainableCall(`no API path below ${routed.surface.root}`);
  // `<prefix>/<upstream>/auth/...` off FAB's root (`/auth/token`, `/auth/logout`): the proxy answers 404 (no catalog path has `auth` third).
  if (!routed && s[2] === 'auth') throw new UnexplainableCall(`the proxy answers 404: below ${s[1]} only the API roots are proxied (under /auth: ${fabRoots()})`);
  return {
    apiPath: routed ? routed.apiPath : `/${s.join('/')}`,
    query: target.query,
    upstream: proxied ? s[1]! : null,
    version: routed ? routed.api.name : null,
    surface: routed ? routed.surface : null,
  };
}

const fabRoots = () => Object.values(apiVersions).flatMap((v) => v.alongside.map((a) => a.root)).join(', ');

/** The API version the proxy would serve the call with: the one the path names must be the upstream's. */
function versionFor(named: ApiVersionName | null, upstream: string | null, apis: UpstreamApis, namedRoot = named && apiVersions[named].root): ApiVersion {
  const configured = upstream === null ? undefined : apis[upstream];
  if (named && configured && named !== configured) {
    throw new UnexplainableCall(`upstream ${upstream} serves ${apiVersions[configured].root}: the proxy answers 404 for ${namedRoot}`);
  }
  return apiVersions[named ?? configured ?? 'v2'];
}

/**
 * What the proxy decides for this principal and call, through the proxy's own decision path (`authorizeCall`)
 * with the same catalog. The only difference is offline id lookups: those stay unresolved, which is said.
 */
export async function explainCall(policy: Policy, principal: Principal, call: CallToExplain, apis: UpstreamApis = {}): Promise<Explanation> {
  const { apiPath, query, upstream: named, version: namedVersion, surface: namedSurface } = routedPathOf(call.path);
  if (named !== null && call.deployment !== undefined && named !== call.deployment) {
    throw new UnexplainableCall(`the path names upstream ${named}, the deployment option ${call.deployment}`);
  }
  const upstream = named ?? call.deployment ?? null;
  const api = versionFor(namedVersion, upstream, apis, namedSurface?.root);
  // A bare path (`/dags/x`) is below the version's own root.
  const surface = namedSurface ?? api;
  const method = call.method.toUpperCase();
  const asked: string[] = [];
  let routedCall;
  try {
    routedCall = unauthenticatedRoute(surface, method, apiPath);
  } catch (err) {
    // The proxy's 405 for a method the catalog has not on this path (404 for a path FAB's API has not), answered before any token or decision.
    if (err instanceof OAuthError) throw new UnexplainableCall(`the proxy answers ${err.status}: ${err.description}`);
    throw err;
  }
  const compiled = compilePrincipal(policy, principal, upstream ?? undefined);
  const decided = await authorizeCall(surface.catalog, compiled, { method, apiPath, query: new URLSearchParams(query), body: call.body }, offlineLookups(asked), routedCall.matches).catch(
    (err: unknown) => {
      // The proxy's input check (a repeated scalar, a body where none is taken): refused before any decision.
      if (err instanceof OAuthError && err.code === 'invalid_request') throw new UnexplainableCall(`the proxy refuses this call: ${err.description}`);
      throw err;
    },
  );
  const { matches, interpretations, decision } = decided;
  const rule = (r: RuleRef | undefined): RuleReport | null => {
    if (!r) return null;
    const role = policy.roles.get(r.role);
    const grant = (r.effect === 'allow' ? role?.grants : role?.denies)?.[r.index];
    return { ...r, kind: grant?.kind, actions: grant ? [...grant.actions] : [] };
  };
  const idOf = (c: Check) => (c.id === ALL ? null : c.id);
  const operations: OperationReport[] = interpretations.map((i) => {
    const op = i.operation;
    const base: OperationReport = { operationId: op.name, method: op.method, template: op.template, access: op.access, ...(op.public && { public: op.public }) };
    if (i.kind === 'checks') return { ...base, resource: i.operation.resource, action: i.operation.action, resourceIds: [...new Set(i.checks.filter((c) => c.resource === i.operation.resource).map(idOf))] };
    if (i.kind === 'unresolved') return { ...base, resource: i.operation.resource, action: i.operation.action, unresolved: i.why };
    return base;
  });
  const notes: string[] = [];
  const unknown = principal.roles.filter((r) => !policy.roles.has(r));
  if (unknown.length) notes.push(`not roles of this policy, so they grant nothing: ${unknown.join(', ')}`);
  if (principal.roles.length === 0) notes.push('no roles: the broker issues no token to an identity no binding names');
  if (principal.details) notes.push('the token is narrowed by authorization_details: a check must also fall within them');
  if (matches.length === 0) notes.push(`no Airflow operation is ${method} ${apiPath}: the proxy refuses what its catalog does not know`);
  if (matches.length > 0 && matches.every((m) => m.operation.public)) notes.push('public: the proxy serves it without a token and sends Airflow no credentials');
  if (matches.length > 1) notes.push(`the path can mean ${matches.length} operations; the proxy allows it only if every one is allowed`);
  for (const { operation: op } of matches) {
    const also = op.access === 'policy' && policy.alsoAccepted(op);
    if (also) notes.push(`policy version 1: ${op.name} needs ${op.action} or ${also} (version 2: ${op.action} only)`);
  }
  if (asked.length) {
    notes.push(`backfill ${asked.join(', ')}: the proxy looks its DAG up at Airflow; offline it is unknown, so this is denied as unresolved here, and the proxy decides on the DAG it finds`);
  }
  const idle = compiled.elsewhere.filter((g) => decision.verdicts.some((v) => matchesElsewhere(g, v.check))).map((g) => formatRule(rule(ruleRef(g))!));
  if (idle.length && upstream) notes.push(`on deployment ${upstream} these grants do not apply (limited to other deployments): ${idle.join('; ')}`);
  if (idle.length && !upstream) {
    notes.push(`no deployment named (a /airflow/<upstream>/api/v2 path or the deployment option): grants limited to deployments do not apply: ${idle.join('; ')}`);
  }
  const filter = decision.filter;
  if (filter) {
    const { resource, action } = filter.operation;
    const through = compiled.grants.filter((g) => g.kind === resource && g.actions.has(action)).map((g) => formatRule(rule(ruleRef(g))!));
    notes.push(`the proxy reads the whole list from Airflow and answers only the ${resource} this token may ${action}, through ${through.join('; ')}`);
  }
  return {
    request: { method, apiPath, query, upstream, api: api.name, root: surface.root },
    roles: [...principal.roles],
    verdict: !decision.allowed ? 'deny' : filter ? 'filter' : 'allow',
    decision: { allowed: decision.allowed, filtered: filter !== undefined, reason: decision.reason, rule: rule(decision.rule) },
    ...(!decision.allowed && { refusal: refusalBody(refusal(decision, { method, path: surface.root + apiPath })) }),
    operations,
    checks: decision.verdicts.map((v) => ({
      resource: v.check.resource,
      action: v.check.action,
      id: idOf(v.check),
      all: v.check.id === ALL,
      allowed: v.allowed,
      reason: v.reason,
      rule: rule(v.rule),
    })),
    notes,
  };
}

const refusalBody = (err: OAuthError): Record<string, string> => ({ error: err.code, error_description: err.description, ...err.extra });

const ids = (list: ReadonlyArray<string | null>, resource: string) => list.map((id) => (id === null ? `all ${resource}` : `${resource} ${JSON.stringify(id)}`)).join(', ');

export function formatRule(r: RuleReport): string {
  const on = r.deployments ? `, deployments: [${r.deployments.join(', ')}]` : '';
  return `${r.role} ${r.effect}[${r.index}] {${r.kind}: ${JSON.stringify(r.patterns)}, actions: [${r.actions.join(', ')}]${on}}`;
}

/** The explanation for a human: request, roles, operations, verdict with the deciding rule, the proxy's refusal, each check, notes. */
export function formatExplanation(e: Explanation): string {
  const lines = [`request:   ${e.request.method} ${e.request.root}${e.request.apiPath}${e.request.query ? `?${e.request.query}` : ''}${e.request.upstream ? ` (upstream ${e.request.upstream})` : ''}`];
  lines.push(`roles:     ${e.roles.length ? e.roles.join(', ') : '(none)'}`);
  for (const op of e.operations) {
    const what =
      op.access === 'public' ? (op.public ? 'public, served without a token' : 'no policy check, any valid token') :
      op.access === 'never' ? 'never proxied' :
      op.unresolved !== undefined ? `${op.action} on ${op.resource}, ids unresolved (${op.unresolved})` :
      `${op.action} on ${ids(op.resourceIds ?? [], op.resource!)}`;
    lines.push(`operation: ${op.operationId} (${op.method} ${op.template}): ${what}`);
  }
  const verdict = e.verdict === 'filter' ? 'allow, filtered' : e.verdict;
  lines.push(`verdict:   ${verdict} (${e.decision.reason})`);
  if (e.decision.rule) lines.push(`rule:      ${formatRule(e.decision.rule)}`);
  if (e.refusal) lines.push(`answer:    403 ${e.refusal.error_description}`);
  if (e.checks.length) lines.push('checks:');
  for (const c of e.checks) {
    lines.push(`  ${c.allowed ? 'yes' : 'no '} ${c.action} on ${ids([c.id], c.resource)}: ${c.reason}${c.rule ? `, ${formatRule(c.rule)}` : ''}`);
  }
  for (const n of e.notes) lines.push(`note: ${n}`);
  return `${lines.join('\n')}\n`;
}
