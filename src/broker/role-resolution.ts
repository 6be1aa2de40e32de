import { OAuthError } from '../errors/oauth-error.js';
import type { BindingSubject, Policy } from '../policy/policy.js';

/**
 * The roles a token gets: those requested in `scope` (role names), or every bound role when none is
 * requested. A role the identity is not bound to is refused, never dropped silently.
 */
export function resolveRoles(policy: Policy, identity: BindingSubject, scope: string | undefined): string[] {
  const bound = policy.rolesFor(identity);
  if (bound.length === 0) throw new OAuthError('invalid_scope', 'no role is bound to this identity');
  if (scope === undefined) return bound;
  const requested = scope.split(' ');
  if (requested.some((s) => s === '')) throw new OAuthError('invalid_scope', 'scope must be role names separated by single spaces');
  const unbound = requested.filter((r) => !bound.includes(r));
  if (unbound.length > 0) throw new OAuthError('invalid_scope', `not granted to this identity: ${unbound.join(' ')}`);
  return bound.filter((r) => requested.includes(r));
}

/**
 * Narrows the roles to those that grant something on the token's deployment (see `Policy.rolesOn`). A role asked
 * for by name that grants nothing there is refused (`invalid_scope`), never dropped silently; when no role is
 * left, the identity may have tokens for other deployments but not this one (RFC 8707 §2: `invalid_target`).
 */
export function rolesForDeployment(policy: Policy, roles: readonly string[], deployment: string, requested: boolean): string[] {
  const kept = policy.rolesOn(roles, deployment);
  const idle = roles.filter((r) => !kept.includes(r));
  if (requested && idle.length > 0) throw new OAuthError('invalid_scope', `grants nothing on deployment ${deployment}: ${idle.join(' ')}`);
  if (kept.length === 0) throw new OAuthError('invalid_target', `no role of this identity grants anything on deployment ${deployment}`);
  return kept;
}

/** Lifetime: the smallest `token_ttl` among the granted roles (else the default), never above the maximum. */
export function tokenLifetimeMs(policy: Policy, roles: readonly string[], defaultTtlMs: number, maxTtlMs: number): number {
  const ttls = roles.map((r) => policy.roles.get(r)?.tokenTtlMs).filter((t): t is number => t !== undefined);
  return Math.min(ttls.length > 0 ? Math.min(...ttls) : defaultTtlMs, maxTtlMs);
}
