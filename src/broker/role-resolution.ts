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

/** Lifetime: the smallest `token_ttl` among the granted roles (else the default), never above the maximum. */
export function tokenLifetimeMs(policy: Policy, roles: readonly string[], defaultTtlMs: number, maxTtlMs: number): number {
  const ttls = roles.map((r) => policy.roles.get(r)?.tokenTtlMs).filter((t): t is number => t !== undefined);
  return Math.min(ttls.length > 0 ? Math.min(...ttls) : defaultTtlMs, maxTtlMs);
}
