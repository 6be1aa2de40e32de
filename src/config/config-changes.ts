import type { Config } from './schema.js';

/**
 * The dotted paths of the config keys whose values differ between two loads (`proxy.leeway`), sorted; a list is
 * compared whole. Names only, never values: a value may be a secret. The config is read at start, so this is what
 * a restart would change.
 */
export function changedConfigKeys(before: Config, after: Config): string[] {
  const changed: string[] = [];
  compare(before, after, '', changed);
  return changed.sort();
}

function compare(a: unknown, b: unknown, path: string, changed: string[]): void {
  if (isRecord(a) && isRecord(b)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) compare(a[key], b[key], path ? `${path}.${key}` : key, changed);
    return;
  }
  if (JSON.stringify(a) !== JSON.stringify(b)) changed.push(path);
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
