import { OAuthError } from '../errors/oauth-error.js';

/**
 * Short-lived server-side state shared by every broker instance: people's sessions, pending logins, one-time
 * authorization codes. Values are opaque strings (the caller serializes); keys carry their own namespace
 * (`session:<id>`, `login:<handle>`, `code:<hash>`). Every implementation is bounded and forgets an entry at its
 * TTL. A store that cannot answer throws {@link storeUnavailable}'s error: nothing is taken as stored or absent.
 *
 * @example
 *   await store.set(`login:${handle}`, JSON.stringify(pending), 600_000);
 *   const pending = await store.take(`login:${handle}`); // a replayed callback finds nothing
 */
export interface ExpiringStore {
  /** Stores `value` under `key` for `ttlMs`, replacing any value there. */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  get(key: string): Promise<string | undefined>;
  /** Reads and deletes in one step: of two concurrent takes of one key, at most one gets the value. */
  take(key: string): Promise<string | undefined>;
  delete(key: string): Promise<void>;
  close(): Promise<void> | void;
}

/** Runs one store operation; any failure of the store becomes the one 503 answer that names it. */
export async function storeOperation<T>(what: string, operation: () => T | Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (err) {
    throw storeUnavailable(what, err);
  }
}

export function storeUnavailable(what: string, cause?: unknown): OAuthError {
  return new OAuthError('temporarily_unavailable', `the ${what} store is unavailable, retry later`, { retryAfter: 2, cause });
}
