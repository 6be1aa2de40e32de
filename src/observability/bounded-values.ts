import { stdSerializers } from 'pino';

/**
 * The size limits of what a log or audit line may carry, so that no caller can make one line large: a 15 KB
 * `client_id`, a huge path or a bulk request of 10,000 ids each becomes a short, marked value.
 *
 * - a string keeps its first {@link MAX_LOGGED_STRING} characters and gets the marker `…[+N]` (N characters
 *   cut), e.g. `"xxxx…[+14744]"`;
 * - an array keeps its first {@link MAX_LOGGED_ITEMS} items and ends with a marker item `"…[+N]"` (N items cut);
 * - an object keeps its first {@link MAX_LOGGED_KEYS} keys (the rest become one `"…": "[+N]"` entry) and nests
 *   at most {@link MAX_LOGGED_DEPTH} levels (deeper values become `"…"`);
 * - an `Error` is serialized (type, message, stack, its own fields); each line of its stack is bounded like a
 *   string, and a stack keeps at most {@link MAX_STACK_LINES} lines.
 *
 * Documented in docs/security-model.md ("Bounded log and audit values").
 */
export const MAX_LOGGED_STRING = 256;
export const MAX_LOGGED_ITEMS = 32;
export const MAX_LOGGED_KEYS = 64;
export const MAX_LOGGED_DEPTH = 6;
export const MAX_STACK_LINES = 64;

/** The marker appended where `cut` characters or items were left out. */
export const cutMarker = (cut: number) => `…[+${cut}]`;

export function boundString(value: string): string {
  return value.length <= MAX_LOGGED_STRING ? value : value.slice(0, MAX_LOGGED_STRING) + cutMarker(value.length - MAX_LOGGED_STRING);
}

/**
 * `value` within the limits above. Returns the very same value when nothing had to change (the audit writer
 * calls this once per proxied request), and never modifies its input. Apply it once per line: a bounded value
 * bounded again loses its marker's count.
 */
export function boundValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return boundString(value);
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= MAX_LOGGED_DEPTH) return '…';
  if (value instanceof Error) return boundError(value, depth);
  if (Array.isArray(value)) return boundArray(value, depth);
  const json = (value as { toJSON?: unknown }).toJSON;
  if (typeof json === 'function') return boundValue(json.call(value), depth);
  return boundObject(value as Record<string, unknown>, depth);
}

function boundArray(items: readonly unknown[], depth: number): unknown[] {
  let out: unknown[] | undefined;
  const kept = Math.min(items.length, MAX_LOGGED_ITEMS);
  for (let i = 0; i < kept; i++) {
    const bounded = boundValue(items[i], depth + 1);
    if (bounded !== items[i]) (out ??= items.slice(0, kept))[i] = bounded;
  }
  if (items.length > kept) (out ??= items.slice(0, kept)).push(cutMarker(items.length - kept));
  return out ?? (items as unknown[]);
}

function boundObject(object: Record<string, unknown>, depth: number): Record<string, unknown> {
  const keys = Object.keys(object);
  let same = 0;
  while (same < keys.length && same < MAX_LOGGED_KEYS) {
    const key = keys[same]!;
    if (key.length > MAX_LOGGED_STRING || boundValue(object[key], depth + 1) !== object[key]) break;
    same++;
  }
  if (same === keys.length) return object;
  const out: Record<string, unknown> = {};
  for (const key of keys.slice(0, MAX_LOGGED_KEYS)) out[boundString(key)] = boundValue(object[key], depth + 1);
  if (keys.length > MAX_LOGGED_KEYS) out['…'] = cutMarker(keys.length - MAX_LOGGED_KEYS);
  return out;
}

function boundError(err: Error, depth: number): Record<string, unknown> {
  // pino's own serializer: type, message (with causes), stack (with causes), enumerable fields.
  const serialized = { ...(stdSerializers.err(err) as unknown as Record<string, unknown>) };
  const stack = serialized.stack;
  if (typeof stack === 'string') {
    const lines = stack.split('\n');
    const kept = lines.slice(0, MAX_STACK_LINES).map(boundString);
    if (lines.length > MAX_STACK_LINES) kept.push(cutMarker(lines.length - MAX_STACK_LINES));
    serialized.stack = kept.join('\n');
  }
  const { stack: bounded, ...rest } = serialized;
  return { ...boundObject(rest, depth), stack: bounded };
}
