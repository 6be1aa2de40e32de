import type { Action, ResourceKind } from '../../policy/vocabulary.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * Where the ids of the resource an operation touches come from. The policy is checked against every id;
 * an id that cannot be determined is a denial, never a pass.
 */
export type IdSource =
  /** A path parameter. For DAGs, `~` means "every DAG". */
  | { from: 'path'; param: string }
  /**
   * A query parameter; absent means "every one" (and so needs a grant covering everything). Every occurrence
   * is an id: list parameters repeat (`?dag_ids=a&dag_ids=b`), and for a scalar one Airflow reads the *last*
   * occurrence while `URLSearchParams.get` returns the first, so checking only one would be a bypass.
   */
  | {
      from: 'query';
      param: string;
      /**
       * The parameter is one string holding a list (Airflow 2's `?dag_ids=a,b`): every item is an id, so a glob
       * can never match the joined string (`etl_*` would match `etl_a,payroll`).
       */
      separator?: ',';
    }
  /**
   * A field of the JSON body: a string, or an integer taken as its decimal string (asset ids). A missing field
   * or any other type leaves the id unresolved; with `optional` (for `also` checks only), a missing field means
   * there is nothing to check (a patch that leaves a user's `username` as it is).
   */
  | { from: 'body'; field: string; optional?: true }
  /** A fixed id, e.g. the view `config`. */
  | { from: 'fixed'; id: string }
  /** The operation reaches every resource of its kind: only a grant covering everything allows it. */
  | { from: 'all' }
  /** The id is found by the proxy asking Airflow (with its own credentials) about another id. */
  | { from: 'lookup'; lookup: 'backfill_dag'; param: string };

/**
 * A bulk body `{actions: [{action, entities, action_on_existence}]}`: each entity is checked with the action
 * its bulk action maps to. `field` names the entity's id; `fallbackPathParam` is used when the entity leaves it
 * out (bulk DAG runs take the path's `dag_id`). A `create` with `action_on_existence: overwrite` may replace an
 * existing entity, so it is checked with the `update` action too (Airflow checks both). A bulk action absent
 * from `actions` is refused.
 */
export interface BulkSpec {
  field: string;
  fallbackPathParam?: string;
  /**
   * What a bare string entity (allowed in `delete`) stands for. `id` (the default): the resource id itself, as
   * for variables, connections and pools. `child`: the key of something under the resource (a DAG run id or a
   * task id), so the resource id comes from `fallbackPathParam`.
   */
  bareString?: 'id' | 'child';
  actions: { create?: Action; update?: Action; delete?: Action };
}

/**
 * A list answered across resources: the proxy removes the items the caller may not see (by `idField` of each
 * item under `itemsKey`), recomputes `total_entries`, and paginates itself.
 */
export interface ListSpec {
  itemsKey: string;
  /** The item's id field; a dotted path reaches into a nested object (`task_instance.dag_id`). */
  idField: string;
  /** False for lists Airflow answers whole, without `limit`/`offset` (the proxy then reads one page). */
  paginated?: false;
  /**
   * A change applied to every item a filter selects (`PATCH /dags?dag_id_pattern=` pauses every match): for a
   * token that may act on only some items, the proxy lists the matches with `GET <template>`, keeps the ones it
   * may change, and sends the request to each one's own path, `each` with `{id}` replaced.
   */
  each?: string;
  /**
   * The query parameter that selects what `each` changes, where Airflow requires it: absent is refused, and
   * `all` (Airflow 2's `dag_id_pattern=~`) selects every item, so it is left out of the listing.
   */
  selector?: { param: string; all: string };
}

/** Batch list whose body carries `dag_ids` (empty, null or absent = all DAGs): rewritten to permitted DAGs. */
export interface BatchListSpec {
  bodyField: 'dag_ids';
}

interface OperationBase {
  /** Airflow's operationId, so the coverage test can compare with the live OpenAPI document. */
  name: string;
  method: HttpMethod;
  /** Path template relative to the API root (`/api/v2`), with `{param}` segments. */
  template: string;
  /** Parameters declared `:path` in Airflow: they take the rest of the path, `/` included. */
  pathParams?: readonly string[];
  /**
   * Query parameters Airflow declares as arrays: only these may repeat (`?tags=a&tags=b`). Any other name,
   * declared or not, may appear once, so the proxy and Airflow (which reads the last of a repeated scalar)
   * cannot read different values. Absent: none.
   */
  arrayQuery?: readonly string[];
  /**
   * Whether Airflow declares a request body; a body sent to an operation without one is refused. Absent: as
   * its method says (`operationTakesBody`).
   */
  takesBody?: boolean;
  /**
   * A long poll: Airflow holds the answer open and streams it (NDJSON) until something finishes, e.g.
   * `GET /dags/{dag_id}/dagRuns/{dag_run_id}/wait`. The proxy bounds it by `timeouts.long_poll` instead of treating a
   * pause of its `interval` as a stall, never asks it compressed, and ends a cut one with an error line. The
   * run's `results` (XCom) in its lines reach only a caller who may `read_xcom` on the DAG (`run-results.ts`).
   */
  longPoll?: true;
}

/** POST, PUT and PATCH take a body unless the operation says otherwise; GET and DELETE never do. */
export const operationTakesBody = (op: Pick<OperationBase, 'method' | 'takesBody'>): boolean =>
  op.takesBody ?? (op.method !== 'GET' && op.method !== 'DELETE');

/** One permission check: an action on the resources named by `ids`. */
export interface CheckSpec {
  resource: ResourceKind;
  action: Action;
  ids: IdSource;
  /**
   * The action a version-1 policy also accepts for this check, where version 2 gave the operation an action of
   * its own (backfills: `version1BackfillActions` in the policy vocabulary).
   */
  version1Action?: Action;
}

/**
 * A flag of the JSON body under which an extra check applies. `default` is what Airflow assumes when the field
 * is absent. Airflow (marshmallow) also reads strings such as `"yes"` or `1` as booleans: any value other than
 * `true` or `false` counts as making the condition hold, so an unusual spelling can only add the check.
 */
export interface BodyFlag {
  field: string;
  /** The condition holds when the flag has this value. */
  is: boolean;
  default: boolean;
}

/** A further check; with `when`, only if one of those body flags holds (otherwise always). */
export interface ExtraCheck extends CheckSpec {
  when?: readonly BodyFlag[];
}

export type Operation =
  /** No policy check: any valid token may call it, or anyone at all when it is also `public`. */
  | (OperationBase & {
      access: 'public';
      /**
       * Served without a token, as Airflow serves it without authentication (`/api/v2/version`,
       * `/api/v2/monitor/health`; `/api/v1/version`, `/api/v1/health`): load-balancer probes and
       * `airflowctl version --remote` call it bare. A token sent along is verified for the audit only, never
       * required; Airflow gets no credentials at all (neither the caller's nor the proxy's). Absent: a valid token
       * is required.
       */
      public?: true;
    })
  /** Never proxied: Airflow's own login/logout. */
  | (OperationBase & { access: 'never'; public?: never })
  | (OperationBase &
      CheckSpec & {
        access: 'policy';
        public?: never;
        list?: ListSpec;
        batch?: BatchListSpec;
        /** The per-entity checks replace the main one, whose `action` and `ids` then only describe the operation. */
        bulk?: BulkSpec;
        /**
         * Further checks that must all pass as well, where Airflow itself checks two resources (a DAG and an
         * asset). They are plain checks: `list`, `batch` and `bulk` apply to the main check only.
         */
        also?: readonly ExtraCheck[];
      });

export type PolicyOperation = Extract<Operation, { access: 'policy' }>;
