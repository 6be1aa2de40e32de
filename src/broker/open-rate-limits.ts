import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { connectRedis } from '../redis/connect-redis.js';
import { RedisRateLimiter } from '../redis/redis-rate-limiter.js';
import { ProcessRateLimiter, type RateLimiter } from './rate-limiter.js';

/** The token endpoint's limits (`rate_limits`): per client id, and per address. */
export interface RateLimits {
  perClient: RateLimiter;
  perAddress: RateLimiter;
  close(): Promise<void>;
}

/**
 * The Redis that shares `rate_limits` between instances, or undefined when they are counted per process
 * (`store: process`, or `auto` without any Redis configured).
 */
export function sharedLimitsRedis(config: Config): { url: string; key_prefix: string; connect_timeout: number } | undefined {
  const rl = config.rate_limits;
  if (rl.store === 'process') return undefined;
  if (rl.redis) return rl.redis;
  const revocation = config.revocation.store === 'redis' ? config.revocation.redis : undefined;
  return revocation && { ...revocation, key_prefix: `${revocation.key_prefix}rate:` };
}

/** Per process, or shared through Redis (connected within `connect_timeout`, else start-up fails like the other stores). */
export async function openRateLimits(config: Config, logger: Logger, now: () => number): Promise<RateLimits> {
  const rl = config.rate_limits;
  const perClient = { requests: rl.per_client.requests, perMs: rl.per_client.per };
  const perAddress = { requests: rl.per_ip.requests, perMs: rl.per_ip.per };
  const local = {
    perClient: new ProcessRateLimiter(perClient, rl.max_tracked, now),
    perAddress: new ProcessRateLimiter(perAddress, rl.max_tracked, now),
  };
  const redis = sharedLimitsRedis(config);
  if (!redis) return { ...local, close: async () => {} };
  const client = await connectRedis({ url: redis.url, connectTimeoutMs: redis.connect_timeout, what: 'rate limits', logger });
  const shared = { keyPrefix: redis.key_prefix, logger };
  return {
    perClient: new RedisRateLimiter(client, { ...shared, name: 'per_client', limit: perClient, fallback: local.perClient }),
    perAddress: new RedisRateLimiter(client, { ...shared, name: 'per_ip', limit: perAddress, fallback: local.perAddress }),
    // A client still reconnecting to a stopped Redis would wait for it: dropped at once instead.
    close: async () => (client.isReady ? client.close().catch(() => {}) : client.destroy()),
  };
}
