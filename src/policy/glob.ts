/**
 * Policy globs: `*` stands for any run of characters (also none); every other character is literal and
 * case-sensitive. Compiled once per policy version.
 */
export interface Glob {
  readonly source: string;
  readonly literal: boolean;
  matches(value: string): boolean;
}

export function compileGlob(source: string): Glob {
  if (!source.includes('*')) return { source, literal: true, matches: (value) => value === source };
  const body = source
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  const re = new RegExp(`^${body}$`, 's');
  return { source, literal: false, matches: (value) => re.test(value) };
}
