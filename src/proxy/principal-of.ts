import { compilePrincipal, type CompiledPrincipal } from '../policy/evaluator.js';
import type { Policy } from '../policy/policy.js';
import type { VerifiedToken } from './authenticate.js';

/**
 * The token's compiled principal under `policy` on `deployment`, kept in the token's cache entry: compiled once
 * per token, policy version and deployment, not per request (narrowed tokens included). A reloaded policy or
 * another deployment is another principal: the held one names both, and is replaced when either differs.
 *
 * Tokens without narrowing share the principal of their policy version, deployment and scope (a handful of role
 * sets), so the decisions hung off a principal (`DecisionCache`) serve every such token; a narrowed token has
 * its own, compiled from its `authorization_details`, and so decisions of its own.
 */
export function principalOf(token: VerifiedToken, policy: Policy, deployment: string): CompiledPrincipal {
  const held = token.principal;
  if (held !== undefined && held.policy === policy && held.deployment === deployment) return held;
  const details = token.claims.authorization_details;
  const principal = details ? compilePrincipal(policy, { roles: token.roles, details }, deployment) : sharedPrincipal(policy, deployment, token);
  token.principal = principal;
  return principal;
}

/** Per policy version (dropped with it), per deployment and scope; at most `MAX_SHARED` each, then one per token. */
const MAX_SHARED = 1_000;
const sharedByPolicy = new WeakMap<Policy, Map<string, CompiledPrincipal>>();
function sharedPrincipal(policy: Policy, deployment: string, token: VerifiedToken): CompiledPrincipal {
  let byScope = sharedByPolicy.get(policy);
  if (!byScope) sharedByPolicy.set(policy, (byScope = new Map()));
  const key = `${deployment} ${token.claims.scope}`; // deployment names have no space
  let compiled = byScope.get(key);
  if (!compiled) {
    compiled = compilePrincipal(policy, { roles: token.roles, details: undefined }, deployment);
    if (byScope.size < MAX_SHARED) byScope.set(key, compiled);
  }
  return compiled;
}
