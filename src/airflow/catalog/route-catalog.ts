import type { Operation } from './operation.js';

/** One interpretation of a request path: the operation and its decoded path parameters. */
export interface MatchedOperation {
  operation: Operation;
  params: Readonly<Record<string, string>>;
}

interface Leaf {
  operation: Operation;
  /** Parameter names in template order, parallel to the values captured while walking. */
  paramNames: readonly string[];
}

interface Node {
  literals: Map<string, Node>;
  /** A `{param}` segment: exactly one non-empty segment. */
  param: Node | undefined;
  /** A `:path` parameter: one or more segments, `/` included. */
  rest: Node | undefined;
  leaves: Leaf[];
}

const newNode = (): Node => ({ literals: new Map(), param: undefined, rest: undefined, leaves: [] });

/**
 * Finds the operations a request path can mean. Airflow (Starlette) routes in registration order, so a path
 * such as `/connections/enqueue-test` reaches whichever of `/connections/enqueue-test` and
 * `/connections/{connection_id}` was registered first; rather than depend on that order, `match` returns every
 * operation whose template matches, most specific first (at the first segment where two differ, a literal beats
 * `{param}`, which beats a `:path` parameter). The caller must allow all of them or none.
 *
 * `path` is relative to the API root, without query, and already validated by the caller: it starts with `/`,
 * has no empty segment (no `//`, no trailing `/`) and no encoded `/`, `\` or `.`. Airflow would route
 * `/variables/` to `get_variable` with an empty key; here an empty segment never matches, so such a path is
 * unknown (`[]`). Each segment is percent-decoded before it is compared, as Starlette compares the decoded path;
 * a malformed escape makes the path unknown. Methods are compared exactly (`GET`, not `get`).
 *
 * The templates are compiled once into a segment trie per method; a match splits the path once and allocates
 * nothing else but its results.
 */
export class RouteCatalog {
  readonly #roots = new Map<string, Node>();
  /** Values captured on the current branch; reused, since matching is synchronous. */
  readonly #values: string[] = [];

  constructor(operations: readonly Operation[]) {
    for (const operation of operations) this.#add(operation);
  }

  match(method: string, path: string): MatchedOperation[] {
    const root = this.#roots.get(method);
    return root ? this.#matchFrom(root, path) : [];
  }

  /**
   * The methods some operation of the catalog has for `path` (sorted), e.g. `['GET', 'PATCH']` for `/dags`: what
   * an `Allow` header lists when a request's own method has none. Empty for a path the catalog does not know.
   */
  methodsAt(path: string): string[] {
    return [...this.#roots].filter(([, root]) => this.#matchFrom(root, path).length > 0).map(([method]) => method).sort();
  }

  #matchFrom(root: Node, path: string): MatchedOperation[] {
    if (path.charCodeAt(0) !== 0x2f) return [];
    const segments = path.split('/');
    for (let i = 1; i < segments.length; i++) {
      const segment = segments[i]!;
      if (segment === '') return [];
      if (segment.includes('%')) {
        try {
          segments[i] = decodeURIComponent(segment);
        } catch {
          return [];
        }
      }
    }
    const results: MatchedOperation[] = [];
    this.#values.length = 0;
    walk(root, segments, 1, this.#values, results);
    return results;
  }

  #add(operation: Operation): void {
    let root = this.#roots.get(operation.method);
    if (!root) this.#roots.set(operation.method, (root = newNode()));
    const restParams = new Set(operation.pathParams);
    const paramNames: string[] = [];
    let node = root;
    if (!operation.template.startsWith('/')) throw new Error(`${operation.name}: template must start with /`);
    for (const segment of operation.template.slice(1).split('/')) {
      const name = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(segment)?.[1];
      if (segment === '' || (name === undefined && /[{}]/.test(segment))) {
        throw new Error(`${operation.name}: bad template segment '${segment}' in ${operation.template}`);
      }
      if (name === undefined) {
        let next = node.literals.get(segment);
        if (!next) node.literals.set(segment, (next = newNode()));
        node = next;
        continue;
      }
      if (paramNames.includes(name)) throw new Error(`${operation.name}: parameter {${name}} appears twice`);
      paramNames.push(name);
      if (restParams.delete(name)) node = node.rest ??= newNode();
      else node = node.param ??= newNode();
    }
    if (restParams.size > 0) {
      throw new Error(`${operation.name}: pathParams ${[...restParams].join(', ')} are not in ${operation.template}`);
    }
    node.leaves.push({ operation, paramNames });
  }
}

/** Depth-first: literal, then `{param}`, then `:path` (longest first), so results come most specific first. */
function walk(node: Node, segments: string[], i: number, values: string[], results: MatchedOperation[]): void {
  if (i === segments.length) {
    for (const leaf of node.leaves) results.push({ operation: leaf.operation, params: toParams(leaf, values) });
    return;
  }
  const segment = segments[i]!;
  const literal = node.literals.get(segment);
  if (literal) walk(literal, segments, i + 1, values, results);
  if (node.param) {
    values.push(segment);
    walk(node.param, segments, i + 1, values, results);
    values.pop();
  }
  if (node.rest) {
    const restNode = node.rest;
    // A template ending in the `:path` parameter (all of Airflow's) takes everything left in one step.
    const shortest = hasFollowers(restNode) ? i + 1 : segments.length;
    for (let end = segments.length; end >= shortest; end--) {
      values.push(segments.slice(i, end).join('/'));
      walk(restNode, segments, end, values, results);
      values.pop();
    }
  }
}

const hasFollowers = (node: Node) => node.literals.size > 0 || node.param !== undefined || node.rest !== undefined;

function toParams(leaf: Leaf, values: readonly string[]): Record<string, string> {
  const params: Record<string, string> = {};
  leaf.paramNames.forEach((name, k) => (params[name] = values[k]!));
  return params;
}
