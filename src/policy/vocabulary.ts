/**
 * The resources a policy grants on, and the actions each accepts. A closed list: the schema refuses anything
 * else, so a typo in a policy is an error, never a silently dead rule.
 */
export const resourceActions = {
  /** DAGs and what hangs off them: runs, task instances, backfills, warnings, versions. */
  dags: ['read', 'read_logs', 'read_code', 'read_xcom', 'write_xcom', 'trigger', 'clear', 'pause', 'edit', 'delete'],
  variables: ['read', 'write', 'delete'],
  connections: ['read', 'write', 'delete'],
  pools: ['read', 'write', 'delete'],
  assets: ['read', 'write', 'delete'],
  /** Deployment-wide views, named by the ids in `viewIds`. */
  views: ['read'],
} as const;

/** The ids a `views` grant may name. */
export const viewIds = ['config', 'import_errors', 'event_logs', 'jobs', 'plugins', 'providers', 'dag_tags', 'dag_parsing'] as const;

export type ResourceKind = keyof typeof resourceActions;
export type Action = (typeof resourceActions)[ResourceKind][number];

export const resourceKinds = Object.keys(resourceActions) as ResourceKind[];

/** The Airflow roles of SimpleAuthManager, weakest first. */
export const airflowRoles = ['viewer', 'user', 'op', 'admin'] as const;
export type AirflowRole = (typeof airflowRoles)[number];
