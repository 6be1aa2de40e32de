import type { Action, ResourceKind } from '../../policy/vocabulary.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * Where the ids of the resource an operation touches come from. The policy is checked against every id;
 * an id that cannot be determined is a denial, never a pass.
 */
export type IdSource =
  /** A path parameter. For DAGs, `~` means "every DAG". */
  | { from: 'path'; param: string }
  /** A query parameter; absent means "every one" (and so needs a grant covering everything). */
  | { from: 'query'; param: string }
  /** A string field of the JSON body. */
  | { from: 'body'; field: string }
  /** A fixed id, e.g. the view `config`. */
  | { from: 'fixed'; id: string }
  /** The operation reaches every resource of its kind: only a grant covering everything allows it. */
  | { from: 'all' }
  /** The id is found by the proxy asking Airflow (with its own credentials) about another id. */
  | { from: 'lookup'; lookup: 'backfill_dag'; param: string };

/**
 * A bulk body `{actions: [{action, entities, action_on_existence}]}`: each entity is checked with the action
 * its bulk action maps to. `field` names the entity's id (a bare string entity is the id itself);
 * `fallbackPathParam` is used when the entity leaves it out (bulk DAG runs take the path's `dag_id`).
 */
export interface BulkSpec {
  field: string;
  fallbackPathParam?: string;
  actions: { create?: Action; update?: Action; delete?: Action };
}

/**
 * A list answered across resources: the proxy removes the items the caller may not see (by `idField` of each
 * item under `itemsKey`), recomputes `total_entries`, and paginates itself.
 */
export interface ListSpec {
  itemsKey: string;
  idField: string;
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
}

export type Operation =
  /** No policy check: any valid token may call it (health, version). */
  | (OperationBase & { access: 'public' })
  /** Never proxied: Airflow's own login/logout. */
  | (OperationBase & { access: 'never' })
  | (OperationBase & {
      access: 'policy';
      resource: ResourceKind;
      action: Action;
      ids: IdSource;
      list?: ListSpec;
      batch?: BatchListSpec;
      bulk?: BulkSpec;
    });

export type PolicyOperation = Extract<Operation, { access: 'policy' }>;
