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
