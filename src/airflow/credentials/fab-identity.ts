import type { AirflowRole } from '../../policy/vocabulary.js';

/** FAB role names for each Airflow role (`identity.fab_roles` of a `trusted-jwks` upstream). */
export type FabRoleMap = Readonly<Record<AirflowRole, readonly string[]>>;

/**
 * The claims the companion auth manager (`airflow_token_broker.fab_auth_manager.TokenBrokerFabAuthManager`,
 * companions/) reads, because FAB itself only knows numeric user ids in `sub`: the FAB user's name, and the FAB
 * roles it is provisioned with on first sight (Airflow keeps only those in its own allow-list; users that already
 * exist keep the roles FAB gave them).
 *
 * @example fabClaims('demo-etl', 'user', roles) // { fab_username: 'demo-etl', fab_roles: ['User'] }
 */
export function fabClaims(username: string, role: AirflowRole, fabRoles: FabRoleMap): { fab_username: string; fab_roles: string[] } {
  return { fab_username: username, fab_roles: [...fabRoles[role]] };
}
