import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { RedisClientType } from 'redis';
import { RedisRateLimiter } from '../redis/redis-rate-limiter.js';
import { ProcessRateLimiter, type RateLimiter } from './rate-limiter.js';

/** The token endpoint's limits (`rate_limits`): per client id, and per address. */
export interface RateLimits {
  perClient: RateLimiter;
  perAddress: RateLimiter;
}

/** Per process, or shared through `redis` (src/redis/shared-redis.ts). */
export function openRateLimits(config: Config, redis: { client: RedisClientType; keyPrefix: string } | undefined, logger: Logger, now: () => number): RateLimits {
  const rl = config.rate_limits;
  const perClient = { requests: rl.per_client.requests, perMs: rl.per_client.per };
  const perAddress = { requests: rl.per_ip.requests, perMs: rl.per_ip.per };
  const local = {
    perClient: new ProcessRateLimiter(perClient, rl.max_tracked, now),
    perAddress: new ProcessRateLimiter(perAddress, rl.max_tracked, now),
  };
  if (!redis) return local;
  const shared = { keyPrefix: redis.keyPrefix, logger };
  return {
    perClient: new RedisRateLimiter(redis.client, { ...shared, name: 'per_client', limit: perClient, fallback: local.perClient }),
    perAddress: new RedisRateLimiter(redis.client, { ...shared, name: 'per_ip', limit: perAddress, fallback: local.perAddress }),
  };
}
