import type { CheckSpec, Operation } from '../airflow/catalog/operation.js';
import { ALL, evaluateCheck, type CompiledPrincipal } from '../policy/evaluator.js';
import type { Glob } from '../policy/glob.js';
import type { ResourceKind } from '../policy/vocabulary.js';

/**
 * Which operations a token may call for at least one resource: the operations its OpenAPI document lists. Every
 * yes is proven by the evaluator the proxy decides with, on a concrete id (one its grants and narrowing name, with
 * each `*` filled in) or on every resource, so a listed operation is callable for that id. An operation callable
 * only for ids none of those candidates hit (a grant whose every sample a deny catches) is left out: the document
 * may list less than the token can do, never more.
 */
export function callableOperations(principal: CompiledPrincipal): (operation: Operation) => boolean {
  return (operation) => {
    if (operation.access === 'public') return true;
    if (operation.access === 'never') return false;
    // A bulk body names its entities and may hold one bulk action: any one the token may take on some id will do.
    if (operation.bulk) return Object.values(operation.bulk.actions).some((action) => reachable(principal, { ...operation, action }, true));
    // A list or batch across every resource is answered item by item: callable when one item may be shown.
    const itemByItem = operation.list !== undefined || operation.batch !== undefined;
    // A further check that applies only under a body flag can be avoided; one that always applies cannot.
    return reachable(principal, operation, itemByItem) && (operation.also ?? []).every((extra) => extra.when !== undefined || reachable(principal, extra, false));
  };
}

/** `anyId`: the ids are checked one by one whatever `ids` says (a filtered list, a bulk body's entities). */
function reachable(principal: CompiledPrincipal, spec: CheckSpec, anyId: boolean): boolean {
  const { resource, action, version1Action } = spec;
  const ids = spec.ids.from === 'fixed' ? [spec.ids.id] : spec.ids.from === 'all' && !anyId ? [ALL] : [ALL, ...candidateIds(principal, resource)];
  return ids.some((id) => evaluateCheck(principal, { resource, action, id, ...(version1Action && { version1Action }) }).allowed);
}

/** Ids the token's grants and narrowing of the kind name: each pattern, and each pair of them, with `*` filled in. */
function candidateIds(principal: CompiledPrincipal, resource: ResourceKind): string[] {
  const grants = principal.grants.filter((g) => g.kind === resource).flatMap((g) => g.patterns);
  const narrowing = (principal.details ?? []).filter((d) => d.resource === resource).flatMap((d) => d.patterns);
  const ids = [...grants, ...narrowing].map((glob) => sample(glob));
  for (const g of grants) for (const n of narrowing) ids.push(sample(g, n));
  return ids;
}

const FILL = 'x';

/**
 * An id matching `a` (and, with `b`, one that matches both when they overlap at all: the longer head, every middle
 * part of both, the longer tail). The evaluator, not this function, decides whether it is allowed.
 */
function sample(a: Glob, b?: Glob): string {
  if (!b || a.literal) return a.literal ? a.source : a.source.replaceAll('*', FILL);
  if (b.literal) return b.source;
  const [headA, middleA, tailA] = parts(a.source);
  const [headB, middleB, tailB] = parts(b.source);
  const head = headA.length >= headB.length ? headA : headB;
  const tail = tailA.length >= tailB.length ? tailA : tailB;
  return [head, ...middleA, ...middleB, tail].join(FILL);
}

function parts(source: string): [string, string[], string] {
  const split = source.split('*');
  return [split[0]!, split.slice(1, -1), split.at(-1)!];
}
