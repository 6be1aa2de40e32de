import { dirname, join, resolve } from 'node:path';
import type { LoadedConfig } from '../config/load-config.js';
import type { SessionStoreConfig } from '../config/session-store-schema.js';
import type { Logger } from '../observability/logger.js';
import type { ExpiringStore } from './expiring-store.js';
import { MemoryExpiringStore } from './memory-expiring-store.js';
import { RedisExpiringStore } from './redis-expiring-store.js';
import { SqliteExpiringStore } from './sqlite-expiring-store.js';

/**
 * The configured session store (`login.session_store`). A Redis that cannot be reached within `connect_timeout`
 * rejects, so start-up fails naming it instead of serving logins nobody else can see.
 */
export async function openExpiringStore(settings: SessionStoreConfig, loaded: Pick<LoadedConfig, 'file' | 'paths'>, logger: Logger, now: () => number): Promise<ExpiringStore> {
  const maxEntries = settings.max_entries;
  if (settings.store === 'memory') return new MemoryExpiringStore({ maxEntries, now });
  if (settings.store === 'redis') {
    const r = settings.redis!;
    return RedisExpiringStore.connect({ url: r.url, keyPrefix: r.key_prefix, connectTimeoutMs: r.connect_timeout, maxEntries, logger });
  }
  return new SqliteExpiringStore({ file: sessionDbPath(settings, loaded), maxEntries, now });
}

/** `sqlite_path` relative to the config file; by default `sessions.sqlite` beside the revocation file. */
export function sessionDbPath(settings: SessionStoreConfig, loaded: Pick<LoadedConfig, 'file' | 'paths'>): string {
  return settings.sqlite_path === undefined ? join(dirname(loaded.paths.revocationDb), 'sessions.sqlite') : resolve(dirname(loaded.file), settings.sqlite_path);
}
