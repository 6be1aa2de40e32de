import type { AirflowAuthorizationDetail } from '../tokens/access-token.js';
import { compileGlob, type Glob } from './glob.js';
import { appliesOn, type CompiledGrant, type Policy } from './policy.js';
import type { Action, ResourceKind } from './vocabulary.js';

/**
 * The pure decision point: policy in, verdict and reasons out. No I/O, no HTTP. The proxy and the admin
 * `explain` tool call the same functions, so an explanation is the proxy's answer.
 */

/** Stands for "every resource of the kind" (a `~` path, an absent filter, a bulk-wide operation). */
export const ALL = '\u0000all';

/** The closed vocabulary of reasons. */
export type Reason =
  | 'public-operation'
  | 'grant-matched'
  | 'list-filtered'
  | 'no-matching-grant'
  /** No grant applies on this deployment, but one limited to other deployments would have allowed it. */
  | 'grant-limited-to-other-deployments'
  | 'deny-rule-matched'
  | 'outside-authorization-details'
  | 'unknown-operation'
  | 'operation-not-proxied'
  | 'resource-id-unresolved';

export interface Check {
  resource: ResourceKind;
  action: Action;
  /** A resource id, or ALL. */
  id: string;
  /** The action a version-1 policy also accepts for this check (backfills: `trigger` or `edit`). */
  version1Action?: Action;
}

export interface RuleRef {
  role: string;
  effect: 'allow' | 'deny';
  /** Position in the role's allow or deny list. */
  index: number;
  patterns: readonly string[];
  /** Present when the grant is limited to deployments (its own or its role's list). */
  deployments?: string[];
}

export interface CheckVerdict {
  check: Check;
  allowed: boolean;
  reason: Reason;
  rule: RuleRef | undefined;
}

/** The token's side of a decision: its roles and optional RFC 9396 narrowing. */
export interface Principal {
  roles: readonly string[];
  details: readonly AirflowAuthorizationDetail[] | undefined;
}

/** The principal compiled against one policy version and one deployment, so per-request work is lookups only. */
export interface CompiledPrincipal {
  policy: Policy;
  /** The deployment the calls go to; `undefined` when none is named (explain), where only unlimited grants apply. */
  deployment: string | undefined;
  /** The token's roles that apply on the deployment (`Policy.rolesOn`): the ones that may lend an `airflow_role` there. */
  rolesHere: readonly string[];
  /** The allow and deny grants that apply on the deployment. */
  grants: readonly CompiledGrant[];
  denies: readonly CompiledGrant[];
  /** The token's grants limited to other deployments: they neither allow nor deny here, only explain. */
  elsewhere: readonly CompiledGrant[];
  details: ReadonlyArray<{ resource: ResourceKind; actions: ReadonlySet<string>; patterns: readonly Glob[] }> | undefined;
}

export function compilePrincipal(policy: Policy, principal: Principal, deployment: string | undefined): CompiledPrincipal {
  const roles = principal.roles.map((r) => policy.roles.get(r)).filter((r) => r !== undefined);
  const here = (g: CompiledGrant) => appliesOn(g, deployment);
  return {
    policy,
    deployment,
    rolesHere: deployment === undefined ? principal.roles : policy.rolesOn(principal.roles, deployment),
    grants: roles.flatMap((r) => r.grants.filter(here)),
    denies: roles.flatMap((r) => r.denies.filter(here)),
    elsewhere: roles.flatMap((r) => [...r.grants, ...r.denies].filter((g) => !here(g))),
    details: principal.details?.map((d) => {
      const resource = (Object.keys(d) as Array<keyof typeof d>).find((k) => k !== 'type' && k !== 'actions') as ResourceKind;
      return { resource, actions: new Set(d.actions), patterns: (d[resource] ?? []).map(compileGlob) };
    }),
  };
}

const covers = (patterns: readonly Glob[], id: string) => (id === ALL ? patterns.some((p) => p.all) : patterns.some((p) => p.matches(id)));

/** Deny wins; then an allow grant must cover the id; then the token's narrowing must cover it too. */
export function evaluateCheck(p: CompiledPrincipal, check: Check): CheckVerdict {
  const { resource, action, id } = check;
  const alsoAccepted = p.policy.alsoAccepted(check);
  const names = (actions: ReadonlySet<string>) => actions.has(action) || (alsoAccepted !== undefined && actions.has(alsoAccepted));
  // For ALL, any deny on the kind and action takes something away from "all", so it denies.
  const deny = p.denies.find((g) => g.kind === resource && names(g.actions) && (id === ALL || g.patterns.some((x) => x.matches(id))));
  if (deny) return { check, allowed: false, reason: 'deny-rule-matched', rule: ruleRef(deny) };
  const grant = p.grants.find((g) => g.kind === resource && names(g.actions) && covers(g.patterns, id));
  if (!grant) {
    const other = p.elsewhere.find((g) => g.effect === 'allow' && matchesElsewhere(g, check, names));
    return other ? { check, allowed: false, reason: 'grant-limited-to-other-deployments', rule: ruleRef(other) } : { check, allowed: false, reason: 'no-matching-grant', rule: undefined };
  }
  if (p.details && !p.details.some((d) => d.resource === resource && names(d.actions) && covers(d.patterns, id))) {
    return { check, allowed: false, reason: 'outside-authorization-details', rule: ruleRef(grant) };
  }
  return { check, allowed: true, reason: 'grant-matched', rule: ruleRef(grant) };
}

/** May any id of this kind be visible at all? (Decides between filtering a list and refusing it.) */
export function mayReachSome(p: CompiledPrincipal, resource: ResourceKind, action: Action): boolean {
  return (
    p.grants.some((g) => g.kind === resource && g.actions.has(action)) &&
    (!p.details || p.details.some((d) => d.resource === resource && d.actions.has(action)))
  );
}

/**
 * Whether a grant limited to other deployments would have taken part in this check there (for reasons and
 * explanations only). On ALL, any such grant of the kind and action counts: it would have shown part of the list.
 */
export function matchesElsewhere(g: CompiledGrant, check: Check, names = (actions: ReadonlySet<string>) => actions.has(check.action)): boolean {
  return g.kind === check.resource && names(g.actions) && (check.id === ALL || g.patterns.some((x) => x.matches(check.id)));
}

export function ruleRef(g: CompiledGrant): RuleRef {
  const ref: RuleRef = { role: g.role, effect: g.effect, index: g.index, patterns: g.patterns.map((x) => x.source) };
  return g.deployments ? { ...ref, deployments: [...g.deployments] } : ref;
}
