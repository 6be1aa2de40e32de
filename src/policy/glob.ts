/**
 * Policy globs: `*` stands for any run of characters (also none); every other character is literal and
 * case-sensitive. Compiled once per policy version.
 */
export interface Glob {
  readonly source: string;
  readonly literal: boolean;
  /** Matches every id (`*`, `**`): the only patterns that allow operations reaching all resources. */
  readonly all: boolean;
  matches(value: string): boolean;
}

export function compileGlob(source: string): Glob {
  if (!source.includes('*')) return { source, literal: true, all: false, matches: (value) => value === source };
  const parts = source.split('*');
  const all = parts.every((p) => p === '');
  return { source, literal: false, all, matches: all ? () => true : (value) => matchParts(parts, value) };
}

/**
 * Finds the literal parts in order, each middle one at its leftmost place, without backtracking: a regex
 * with several stars can backtrack for seconds on a crafted id, and ids come from requests.
 */
function matchParts(parts: readonly string[], value: string): boolean {
  const head = parts[0]!;
  const tail = parts.at(-1)!;
  if (value.length < head.length + tail.length || !value.startsWith(head) || !value.endsWith(tail)) return false;
  const end = value.length - tail.length;
  let pos = head.length;
  for (const part of parts.slice(1, -1)) {
    const at = value.indexOf(part, pos);
    if (at < 0 || at + part.length > end) return false;
    pos = at + part.length;
  }
  return true;
}

/**
 * True when every id `inner` matches is matched by `outer` too. Exact for star-only globs: `inner` with each
 * star replaced by a character `outer` never names is one of its ids, and `outer` can match it only with its
 * own stars spanning those characters, so it matches whatever they stand for.
 */
export function globCovers(outer: Glob, inner: Glob): boolean {
  if (outer.all) return true;
  if (inner.literal) return outer.matches(inner.source);
  let marker = 0xe000;
  while (outer.source.includes(String.fromCharCode(marker))) marker++;
  return outer.matches(inner.source.replaceAll('*', String.fromCharCode(marker)));
}

/**
 * True when some id matches both. Two globs with stars share an id exactly when their heads (before the first
 * star) and their tails (after the last star) agree: the heads, every middle part of both, then the tails, in
 * that order, make one.
 */
export function globsOverlap(a: Glob, b: Glob): boolean {
  if (a.literal) return b.matches(a.source);
  if (b.literal) return a.matches(b.source);
  const [headA, tailA] = ends(a.source);
  const [headB, tailB] = ends(b.source);
  return (headA.startsWith(headB) || headB.startsWith(headA)) && (tailA.endsWith(tailB) || tailB.endsWith(tailA));
}

function ends(source: string): [string, string] {
  return [source.slice(0, source.indexOf('*')), source.slice(source.lastIndexOf('*') + 1)];
}
