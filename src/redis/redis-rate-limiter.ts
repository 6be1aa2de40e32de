import type { RedisClientType } from 'redis';
import type { RateLimit, RateLimiter } from '../broker/rate-limiter.js';
import type { Logger } from '../observability/logger.js';

/**
 * The token bucket of `ProcessRateLimiter` as one atomic script (GCRA: the bucket is the time at which it is
 * full again, one key per bucket, so two instances can never both take its last request). Times come from Redis'
 * own clock (`TIME`), so instances with skewed clocks still count one bucket. The key expires when the bucket is
 * full again: Redis holds only the buckets in use. Returns 0 when allowed, else the milliseconds to wait.
 */
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local full = tonumber(redis.call('GET', KEYS[1]) or now)
if full < now then full = now end
local after = full + interval
local wait = after - now - period
if wait > 0 then return math.ceil(wait) end
redis.call('SET', KEYS[1], string.format('%.3f', after), 'PX', math.ceil(after - now))
return 0`;

/** A rate-limit check waits this long for Redis at most, then decides locally: never a slow token endpoint. */
export const REDIS_LIMIT_TIMEOUT_MS = 250;

export interface RedisRateLimiterOptions {
  /** Each bucket's key is `<keyPrefix><name>:<key>`. */
  keyPrefix: string;
  /** `per_client`, `per_ip`: part of the key, and of the log line when Redis fails. */
  name: string;
  limit: RateLimit;
  /** Decides while Redis cannot answer: the same limit, counted by this process alone. */
  fallback: RateLimiter;
  logger: Logger;
}

/**
 * One rate limit shared by every instance through Redis: N instances allow it once, not N times. While Redis
 * cannot answer (down, unreachable, slower than {@link REDIS_LIMIT_TIMEOUT_MS}) each instance limits on its own
 * (`fallback`), logged once per outage: the token endpoint keeps working, at most N times the limit.
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly client: RedisClientType;
  private failing = false;

  constructor(
    client: RedisClientType,
    private readonly options: RedisRateLimiterOptions,
  ) {
    this.client = client.withCommandOptions({ timeout: REDIS_LIMIT_TIMEOUT_MS }) as unknown as RedisClientType;
  }

  async take(key: string): Promise<number> {
    const { keyPrefix, name, limit } = this.options;
    let waitMs: unknown;
    try {
      waitMs = await this.client.eval(TAKE, { keys: [`${keyPrefix}${name}:${key}`], arguments: [String(limit.perMs / limit.requests), String(limit.perMs)] });
    } catch (err) {
      if (!this.failing) this.options.logger.warn({ limit: name, error: err instanceof Error ? err.message : String(err) }, 'Redis cannot answer: rate limit counted per instance meanwhile');
      this.failing = true;
      return this.options.fallback.take(key);
    }
    if (this.failing) this.options.logger.info({ limit: name }, 'Redis answers again: rate limit shared again');
    this.failing = false;
    return Math.ceil(Number(waitMs) / 1000);
  }
}
