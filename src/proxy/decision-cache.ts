import { LRUCache } from 'lru-cache';
import type { MatchedOperation } from '../airflow/catalog/route-catalog.js';
import type { CompiledPrincipal } from '../policy/evaluator.js';
import type { CallDecision } from './authorize-call.js';
import { readsOnlyPath } from './resolve-checks.js';

/**
 * Decisions reused for calls that read nothing but their path: the same compiled principal, catalog, method and
 * path give the same decision, so the checks are resolved and evaluated once, not per request.
 *
 * What keeps an answer from going stale or reaching another call:
 * - entries hang off the compiled principal (a `WeakMap`): a new policy version, another deployment or scope, or a
 *   narrowed token (compiled per request) is another principal, with entries of its own, or none;
 * - per principal, entries hang off the catalog (FAB's `/users` is not v2's), keyed on the method and the whole
 *   raw path below the API root, so an id in one path never answers for another;
 * - only calls whose every interpretation reads the path alone are stored (`readsOnlyPath`): nothing that reads
 *   the query, the body or asks Airflow (`lookup`) is ever cached. The caller still checks the call's own input
 *   (`checkOperationInput`) on every request.
 * Each principal holds at most `maxPerPrincipal` decisions (least recently used go first).
 */
export class DecisionCache {
  readonly #byPrincipal = new WeakMap<CompiledPrincipal, WeakMap<object, LRUCache<string, CallDecision>>>();

  constructor(readonly maxPerPrincipal = 256) {}

  get(principal: CompiledPrincipal, catalog: object, method: string, apiPath: string): CallDecision | undefined {
    return this.#byPrincipal.get(principal)?.get(catalog)?.get(`${method} ${apiPath}`);
  }

  /** Stores `decided` when every one of its interpretations reads the path alone; otherwise does nothing. */
  remember(principal: CompiledPrincipal, catalog: object, method: string, apiPath: string, decided: CallDecision): void {
    if (!cacheable(decided.matches)) return;
    let byCatalog = this.#byPrincipal.get(principal);
    if (!byCatalog) this.#byPrincipal.set(principal, (byCatalog = new WeakMap()));
    let decisions = byCatalog.get(catalog);
    if (!decisions) byCatalog.set(catalog, (decisions = new LRUCache({ max: this.maxPerPrincipal })));
    decisions.set(`${method} ${apiPath}`, decided);
  }

  /** How many decisions are held for this principal and catalog (for tests of the bound). */
  size(principal: CompiledPrincipal, catalog: object): number {
    return this.#byPrincipal.get(principal)?.get(catalog)?.size ?? 0;
  }
}

/** An unknown path (no match) is cached too: its decision (`unknown-operation`) reads nothing at all. */
const cacheable = (matches: readonly MatchedOperation[]) => matches.every((m) => readsOnlyPath(m.operation));
