import { storeUnavailable } from './expiring-store.js';

/**
 * The answer when a bounded store has `maxEntries` live entries and is asked for a new key: the same 503 as an
 * unavailable store (the write did not happen, retry later), its cause saying why for the log.
 */
export function storeFull(what: string, maxEntries: number) {
  return storeUnavailable(what, new Error(`the ${what} store is full: ${maxEntries} live entries (max_entries); a new key is refused until one expires or ends`));
}
