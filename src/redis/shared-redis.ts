import type { RedisClientType } from 'redis';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { connectRedis } from './connect-redis.js';
import { RedisDecisionStream } from './redis-decision-stream.js';

/** Decisions kept in the shared stream: the same bound as each instance's own ring. */
export const SHARED_DECISIONS = 10_000;

/** The Redis instances share rate limits and the recent-decisions view through (one connection for both). */
export interface SharedRedis {
  client: RedisClientType;
  keyPrefix: string;
  decisions: RedisDecisionStream;
  /** Sends the last decisions, then disconnects. */
  close(): Promise<void>;
}

/**
 * The Redis that shares `rate_limits` (and the recent-decisions view) between instances, or undefined when they
 * are per process (`rate_limits.store: process`, or `auto` without any Redis configured).
 */
export function sharedRedisConnection(config: Config): { url: string; key_prefix: string; connect_timeout: number } | undefined {
  const rl = config.rate_limits;
  if (rl.store === 'process') return undefined;
  if (rl.redis) return rl.redis;
  const revocation = config.revocation.store === 'redis' ? config.revocation.redis : undefined;
  return revocation && { ...revocation, key_prefix: `${revocation.key_prefix}rate:` };
}

/** Connected within `connect_timeout` (else start-up fails, like the other stores), or undefined without one. */
export async function openSharedRedis(config: Config, logger: Logger): Promise<SharedRedis | undefined> {
  const redis = sharedRedisConnection(config);
  if (!redis) return undefined;
  const client = await connectRedis({ url: redis.url, connectTimeoutMs: redis.connect_timeout, what: 'rate limits', logger });
  const decisions = new RedisDecisionStream(client, `${redis.key_prefix}decisions`, SHARED_DECISIONS, logger);
  return {
    client,
    keyPrefix: redis.key_prefix,
    decisions,
    async close() {
      if (client.isReady) await decisions.flush();
      // A client still reconnecting to a stopped Redis would wait for it: dropped at once instead.
      await (client.isReady ? client.close().catch(() => {}) : client.destroy());
    },
  };
}
