import type { ServerResponse } from 'node:http';

/**
 * Adds `field` to the answer's `Vary` instead of replacing it: CORS sets `Vary: Origin` first, and a later
 * `Vary` (Airflow's `Accept-Encoding`) must not drop it. Returns the merged value.
 */
export function addVary(res: ServerResponse, field: string): string {
  const merged = mergeVary(res.getHeader('vary'), field);
  res.setHeader('Vary', merged);
  return merged;
}

/** `current` and `more` as one `Vary` list, each field once (compared case-insensitively); `*` stays `*`. */
export function mergeVary(current: number | string | string[] | undefined, more: number | string | string[]): string {
  const fields: string[] = [];
  const seen = new Set<string>();
  for (const part of [current ?? [], more].flat().join(',').split(',')) {
    const field = part.trim();
    if (field === '' || seen.has(field.toLowerCase())) continue;
    seen.add(field.toLowerCase());
    fields.push(field);
  }
  return seen.has('*') ? '*' : fields.join(', ');
}
