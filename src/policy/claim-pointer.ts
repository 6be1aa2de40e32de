/**
 * A claim named by an RFC 6901 JSON Pointer, parsed once (at policy or config load) and read per token.
 *
 * ```ts
 * const roles = parseClaimPointer('/realm_access/roles');           // Keycloak realm roles
 * const url = parseClaimPointer('/https:~1~1example.com~1roles');   // the claim "https://example.com/roles"
 * claimAt({ realm_access: { roles: ['etl'] } }, roles!);            // ['etl']
 * ```
 *
 * A pointer is unambiguous where a dotted path is not: Entra and Auth0 claim names contain dots and slashes.
 */
export interface ClaimPointer {
  /** The pointer as written. */
  source: string;
  /** The unescaped reference tokens (`~1` is `/`, `~0` is `~`); never empty, the whole payload is no claim. */
  tokens: readonly string[];
}

/** Non-empty, starts with `/`, and every `~` is followed by `0` or `1` (RFC 6901 §3). */
const POINTER = /^(?:\/(?:[^~/]|~[01])*)+$/;

/** The pointer, or undefined when `text` is not a valid RFC 6901 pointer to a claim. */
export function parseClaimPointer(text: string): ClaimPointer | undefined {
  if (!POINTER.test(text)) return undefined;
  // Unescape ~1 before ~0 (RFC 6901 §4), so that "~01" reads as "~1", not "/".
  const tokens = text.slice(1).split('/').map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'));
  return { source: text, tokens };
}

/**
 * A claim as the config names one (`directories.<name>.claims.groups`): a pointer when it starts with `/`, else a
 * top-level claim of exactly that name (never split at dots). Throws on an invalid pointer: the config schema
 * refuses one before this runs.
 */
export function parseClaimName(text: string): ClaimPointer {
  if (!text.startsWith('/')) return { source: text, tokens: [text] };
  const pointer = parseClaimPointer(text);
  if (!pointer) throw new Error(`not a JSON Pointer: ${text}`);
  return pointer;
}

/** The value at the pointer, or undefined when any step is missing. Own properties only, arrays by index never. */
export function claimAt(claims: Readonly<Record<string, unknown>>, pointer: ClaimPointer): unknown {
  let value: unknown = claims;
  for (const token of pointer.tokens) {
    // Arrays are values to match, not containers to index: "/roles/0" would depend on the directory's order.
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.hasOwn(value, token)) return undefined;
    value = (value as Record<string, unknown>)[token];
  }
  return value;
}

/**
 * A condition holds when the claim is a string equal to an accepted value, or an array of strings containing
 * one. Exact comparison; any other shape (absent, number, object, an array holding a non-string) never matches.
 */
export function claimMatches(value: unknown, accepted: ReadonlySet<string>): boolean {
  if (typeof value === 'string') return accepted.has(value);
  return Array.isArray(value) && value.every((v) => typeof v === 'string') && value.some((v: string) => accepted.has(v));
}

/** The pointer text for these claim names (`['realm_access', 'roles']` -> `/realm_access/roles`), for hints. */
export function pointerTo(tokens: readonly string[]): string {
  return tokens.map((t) => '/' + t.replaceAll('~', '~0').replaceAll('/', '~1')).join('');
}
