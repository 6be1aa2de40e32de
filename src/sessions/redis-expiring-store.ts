import type { RedisClientType } from 'redis';
import type { Logger } from '../observability/logger.js';
import { connectRedis } from '../redis/connect-redis.js';
import { storeOperation, type ExpiringStore } from './expiring-store.js';
import { storeFull } from './store-full.js';

/**
 * Sets an entry and indexes it by expiry, or refuses (0) a new key when `max` live entries are indexed. Redis's
 * own clock dates every entry, so instances with skewed clocks agree on what is live.
 * KEYS: entry, index. ARGV: value, ttl ms, index member, max.
 */
const SET_BOUNDED = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if not redis.call('ZSCORE', KEYS[2], ARGV[3]) and redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[3])
return 1`;

/** Reads and deletes an entry and its index place in one step. KEYS: entry, index. ARGV: index member. */
const TAKE = `
local v = redis.call('GETDEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return v`;

export interface RedisExpiringStoreOptions {
  url: string;
  /** Prefix of every key written: entries at `<prefix>k:<key>`, the expiry index at `<prefix>index`. */
  keyPrefix: string;
  /** Bounds each connection attempt, and the whole first connect: `connect` rejects when it is spent. */
  connectTimeoutMs: number;
  /** Most live entries under this prefix; a new key past it is refused (503), nothing live is evicted. */
  maxEntries: number;
  /** What the 503 names (default `session`: "the session store is unavailable"). */
  what?: string;
  logger?: Logger;
}

/**
 * Entries in Redis, shared by every instance behind a load balancer: `SET ... PX` with the TTL, `GETDEL` for
 * `take` (of two instances taking one key, one gets it). A sorted set of the live keys by expiry bounds them.
 * While Redis cannot answer, every operation is the 503 naming the store: never "no entry".
 */
export class RedisExpiringStore implements ExpiringStore {
  private constructor(
    private readonly client: RedisClientType,
    private readonly options: RedisExpiringStoreOptions,
    private readonly what: string,
  ) {}

  /** Connects within `connectTimeoutMs` or rejects naming the store and address; later outages are retried. */
  static async connect(options: RedisExpiringStoreOptions): Promise<RedisExpiringStore> {
    const what = options.what ?? 'session';
    const client = await connectRedis({ url: options.url, connectTimeoutMs: options.connectTimeoutMs, what: `${what} store`, logger: options.logger });
    return new RedisExpiringStore(client, options, what);
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    const ttl = String(Math.max(1, Math.ceil(ttlMs)));
    const args = [value, ttl, key, String(this.options.maxEntries)];
    const stored = await storeOperation(this.what, () => this.client.eval(SET_BOUNDED, { keys: [this.entryKey(key), this.indexKey], arguments: args }));
    if (stored !== 1) throw storeFull(this.what, this.options.maxEntries);
  }

  async get(key: string): Promise<string | undefined> {
    return (await storeOperation(this.what, () => this.client.get(this.entryKey(key)))) ?? undefined;
  }

  async take(key: string): Promise<string | undefined> {
    const value = await storeOperation(this.what, () => this.client.eval(TAKE, { keys: [this.entryKey(key), this.indexKey], arguments: [key] }));
    return typeof value === 'string' ? value : undefined;
  }

  async delete(key: string): Promise<void> {
    await this.take(key);
  }

  async close(): Promise<void> {
    await this.client.close().catch(() => {});
  }

  private entryKey(key: string): string {
    return `${this.options.keyPrefix}k:${key}`;
  }

  private get indexKey(): string {
    return `${this.options.keyPrefix}index`;
  }
}
