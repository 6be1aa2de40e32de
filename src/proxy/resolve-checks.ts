import type { BodyFlag, IdSource, Operation, PolicyOperation } from '../airflow/catalog/operation.js';
import { ALL, type Check } from '../policy/evaluator.js';
import type { Action, ResourceKind } from '../policy/vocabulary.js';

/** Ids the proxy must ask Airflow about (with its own credentials). */
export interface IdLookups {
  backfillDag(backfillId: string): Promise<string | undefined>;
}

export interface RequestFacts {
  params: Readonly<Record<string, string>>;
  query: URLSearchParams;
  body: unknown;
}

/** One interpretation of a request: the operation and every permission check it needs. */
export type ResolvedOperation =
  | { operation: Operation; kind: 'public' }
  | { operation: Operation; kind: 'never' }
  | { operation: PolicyOperation; kind: 'checks'; checks: Check[]; listAll: boolean }
  | { operation: PolicyOperation; kind: 'unresolved'; why: string };

/**
 * Stage 2b: the resource ids a request touches, from path, query, body or a lookup. An id that cannot be
 * found makes the interpretation `unresolved`, which the evaluator denies.
 */
export async function resolveChecks(operation: Operation, facts: RequestFacts, lookups: IdLookups): Promise<ResolvedOperation> {
  if (operation.access === 'public') return { operation, kind: 'public' };
  if (operation.access === 'never') return { operation, kind: 'never' };
  try {
    if (operation.bulk) return { operation, kind: 'checks', checks: bulkChecks(operation, facts), listAll: false };
    if (operation.batch) {
      const ids = (facts.body as Record<string, unknown> | undefined)?.[operation.batch.bodyField];
      if (ids === undefined || ids === null || (Array.isArray(ids) && ids.length === 0)) {
        return { operation, kind: 'checks', checks: [{ resource: operation.resource, action: operation.action, id: ALL }], listAll: true };
      }
      if (!Array.isArray(ids) || !ids.every((x): x is string => typeof x === 'string')) throw new Unresolved(`${operation.batch.bodyField} must be a list of strings`);
      return { operation, kind: 'checks', checks: ids.map((id) => ({ resource: operation.resource, action: operation.action, id })), listAll: false };
    }
    const ids = await idsFrom(operation.ids, operation.resource, facts, lookups);
    const { version1Action } = operation;
    const checks: Check[] = ids.map((id) => ({ resource: operation.resource, action: operation.action, id, ...(version1Action && { version1Action }) }));
    // Checks Airflow makes on a second resource (e.g. the asset of a DAG's queued event) must pass too.
    for (const extra of operation.also ?? []) {
      if (extra.when && !extra.when.some((flag) => flagHolds(flag, facts.body))) continue;
      for (const id of await idsFrom(extra.ids, extra.resource, facts, lookups)) checks.push({ resource: extra.resource, action: extra.action, id });
    }
    return { operation, kind: 'checks', checks, listAll: operation.list !== undefined && ids.length === 1 && ids[0] === ALL };
  } catch (err) {
    if (err instanceof Unresolved) return { operation, kind: 'unresolved', why: err.message };
    throw err;
  }
}

class Unresolved extends Error {}

/**
 * Whether `resolveChecks` reads nothing but the path parameters of this operation (no query, no body, no lookup at
 * Airflow): its checks, and so its decision, are then a function of the path alone (`DecisionCache`).
 */
export function readsOnlyPath(operation: Operation): boolean {
  if (operation.access !== 'policy') return true;
  if (operation.bulk || operation.batch) return false;
  return fromPathOnly(operation.ids) && (operation.also ?? []).every((extra) => !extra.when && fromPathOnly(extra.ids));
}

const fromPathOnly = (source: IdSource) => source.from === 'path' || source.from === 'fixed' || source.from === 'all';

/** Only an exact boolean is taken at its word; anything else Airflow might read as either, so the flag holds. */
function flagHolds(flag: BodyFlag, body: unknown): boolean {
  const value = body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>)[flag.field] : undefined;
  if (value === undefined) return flag.default === flag.is;
  return typeof value !== 'boolean' || value === flag.is;
}

async function idsFrom(source: IdSource, resource: ResourceKind, facts: RequestFacts, lookups: IdLookups): Promise<string[]> {
  switch (source.from) {
    case 'path': {
      const value = facts.params[source.param];
      if (value === undefined) throw new Unresolved(`no ${source.param} in path`);
      return [resource === 'dags' && value === '~' ? ALL : value];
    }
    case 'query': {
      const given = facts.query.getAll(source.param);
      const values = source.separator ? given.flatMap((v) => v.split(source.separator!)) : given;
      return values.length === 0 || values.includes('~') ? [ALL] : values;
    }
    case 'body': {
      const value = (facts.body as Record<string, unknown> | undefined)?.[source.field];
      if (value === undefined && source.optional) return [];
      if (typeof value === 'number' && Number.isSafeInteger(value)) return [String(value)];
      if (typeof value !== 'string') throw new Unresolved(`body field ${source.field} must be a string`);
      return [value];
    }
    case 'fixed':
      return [source.id];
    case 'all':
      return [ALL];
    case 'lookup': {
      const id = facts.params[source.param];
      const found = id === undefined ? undefined : await lookups.backfillDag(id);
      if (found === undefined) throw new Unresolved(`${source.param} could not be resolved`);
      return [found];
    }
  }
}

/** Every entity of every bulk action, with the action its bulk verb maps to. */
function bulkChecks(op: PolicyOperation, facts: RequestFacts): Check[] {
  const spec = op.bulk!;
  const actions = (facts.body as { actions?: unknown } | undefined)?.actions;
  if (!Array.isArray(actions) || actions.length === 0) throw new Unresolved('bulk body needs a non-empty actions list');
  const checks: Check[] = [];
  for (const entry of actions) {
    const verb = (entry as { action?: unknown } | null)?.action;
    const action: Action | undefined = typeof verb === 'string' ? spec.actions[verb as keyof typeof spec.actions] : undefined;
    if (!action) throw new Unresolved(`unsupported bulk action ${String(verb)}`);
    const entities = (entry as { entities?: unknown }).entities;
    if (!Array.isArray(entities) || entities.length === 0) throw new Unresolved('bulk action without entities');
    // create with action_on_existence: overwrite replaces what exists: it needs the update action too.
    const overwrite = verb === 'create' && (entry as { action_on_existence?: unknown }).action_on_existence === 'overwrite' ? spec.actions.update : undefined;
    for (const entity of entities) {
      const id = entityId(entity, spec.field, spec.fallbackPathParam, op, facts);
      checks.push({ resource: op.resource, action, id });
      if (overwrite && overwrite !== action) checks.push({ resource: op.resource, action: overwrite, id });
    }
  }
  return checks;
}

function entityId(entity: unknown, field: string, fallback: string | undefined, op: PolicyOperation, facts: RequestFacts): string {
  // A bare string is the entity's own id: the resource id itself, unless the resource comes from the path
  // (a bulk DAG-run entity "run_1" names a run of the path's DAG).
  const value = typeof entity === 'string' ? (fallback === undefined ? entity : undefined) : (entity as Record<string, unknown> | null)?.[field];
  if (typeof value === 'string') return value;
  if ((value === undefined || value === null) && fallback !== undefined) {
    const fromPath = facts.params[fallback];
    if (fromPath !== undefined) return op.resource === 'dags' && fromPath === '~' ? ALL : fromPath;
  }
  throw new Unresolved(`bulk entity without ${field}`);
}
