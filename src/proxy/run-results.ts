import { evaluateCheck, type CompiledPrincipal } from '../policy/evaluator.js';
import type { ResolvedOperation } from './resolve-checks.js';

/**
 * Whether a long poll may carry its run's results. Airflow's `/wait` adds the run's XCom (`results`) to its last
 * line when the user Airflow sees may read XCom: in `service-account` mode that is the proxy's own user, so the
 * policy decides for the caller, with `read_xcom` on each DAG the call is about (what reading the XCom needs).
 */
export function mayReadRunResults(principal: CompiledPrincipal, resolved: ResolvedOperation | undefined): boolean {
  if (resolved?.kind !== 'checks') return false;
  return resolved.checks.every((c) => c.resource === 'dags' && evaluateCheck(principal, { resource: 'dags', action: 'read_xcom', id: c.id }).allowed);
}
