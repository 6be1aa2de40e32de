/** Where people land after login or logout when no usable return address was given. */
export const DEFAULT_RETURN_PATH = '/console';

/**
 * A return address is a path on the broker's own origin: it starts with one `/`, never `//` (another host), never
 * a `\` (browsers read `/\host` as `//host`), no scheme, no control characters. Anything else is replaced by
 * {@link DEFAULT_RETURN_PATH}: an open redirect is never possible, and a bad value is no reason to fail a login.
 */
export function sameOriginPath(value: unknown): string {
  if (typeof value !== 'string' || value.length > 2048) return DEFAULT_RETURN_PATH;
  if (!value.startsWith('/') || value.startsWith('//') || value.includes('\\')) return DEFAULT_RETURN_PATH;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) return DEFAULT_RETURN_PATH;
  // Whatever the string says, resolved against a placeholder origin it must stay there.
  const resolved = new URL(value, 'http://broker.invalid');
  if (resolved.origin !== 'http://broker.invalid') return DEFAULT_RETURN_PATH;
  return resolved.pathname + resolved.search + resolved.hash;
}
