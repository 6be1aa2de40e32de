/**
 * The resources a policy grants on, and the actions each accepts. A closed list: the schema refuses anything
 * else, so a typo in a policy is an error, never a silently dead rule.
 */
export const resourceActions = {
  /**
   * DAGs and what hangs off them: runs, task instances, backfills, warnings, versions. `backfill` creates,
   * dry-runs, pauses, unpauses and cancels backfills (see {@link version1BackfillActions}).
   */
  dags: ['read', 'read_logs', 'read_code', 'read_xcom', 'write_xcom', 'trigger', 'backfill', 'clear', 'pause', 'edit', 'delete'],
  variables: ['read', 'write', 'delete'],
  connections: ['read', 'write', 'delete'],
  pools: ['read', 'write', 'delete'],
  assets: ['read', 'write', 'delete'],
  /** Deployment-wide views, named by the ids in `viewIds`. */
  views: ['read'],
  /**
   * FAB user accounts, by username: Airflow 2's `/api/v1/users` and, on Airflow 3 with the FAB auth manager,
   * `/auth/fab/v1/users`: list and read, create and change (`write`), delete. Whoever may write a user may give it
   * any FAB role (and a password), so grant it only to roles that administer Airflow. Like `roles`, granted only by
   * a grant that names it: no grant of another kind, however wide, reaches it (the evaluator matches the kind).
   */
  users: ['read', 'write', 'delete'],
  /**
   * FAB roles, by role name (`/api/v1/roles`, `/auth/fab/v1/roles`); listing FAB's permissions is `read` on every
   * role. Renaming a role needs `write` on the new name as well.
   */
  roles: ['read', 'write', 'delete'],
} as const;

/** The versions of the policy language: 2 gave backfills their own action. */
export const policyVersions = [1, 2] as const;
export type PolicyVersion = (typeof policyVersions)[number];

/**
 * What each backfill operation needed before policy version 2 gave backfills the action `backfill`: creating
 * one (or its dry run) was a `trigger`, pausing, unpausing or cancelling one an `edit`. A version-1 policy still
 * grants each through that action as well as through `backfill`, so every policy written for version 1 decides
 * as it always did; in version 2 only `backfill` grants them. Keyed by Airflow's operationId.
 */
export const version1BackfillActions = {
  create_backfill: 'trigger',
  create_backfill_dry_run: 'trigger',
  pause_backfill: 'edit',
  unpause_backfill: 'edit',
  cancel_backfill: 'edit',
} as const satisfies Record<string, Action>;

export type BackfillOperation = keyof typeof version1BackfillActions;

/** The ids a `views` grant may name. */
export const viewIds = ['config', 'import_errors', 'event_logs', 'jobs', 'plugins', 'providers', 'dag_tags', 'dag_parsing'] as const;

export type ResourceKind = keyof typeof resourceActions;
export type Action = (typeof resourceActions)[ResourceKind][number];

export const resourceKinds = Object.keys(resourceActions) as ResourceKind[];

/** The Airflow roles of SimpleAuthManager, weakest first. */
export const airflowRoles = ['viewer', 'user', 'op', 'admin'] as const;
export type AirflowRole = (typeof airflowRoles)[number];
