import { LRUCache } from 'lru-cache';

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export interface RateLimit {
  requests: number;
  perMs: number;
}

/**
 * A rate limit of the token, introspection and revocation endpoints (and of `GET /login`, of codes per person):
 * a token bucket of `requests` refilled continuously over `perMs`, one per key (a client id, an address).
 *
 * @example
 *   const wait = await limiter.take(clientId); // 0: allowed; else seconds until the next request is
 *   if (wait > 0) throw new OAuthError('temporarily_unavailable', 'rate limit exceeded', { status: 429, retryAfter: wait });
 *
 * Implemented per process ({@link ProcessRateLimiter}) and shared by every instance through Redis
 * (`RedisRateLimiter`, src/redis/redis-rate-limiter.ts). `take` never rejects: a limiter whose store fails
 * decides locally (the policy in docs/security-model.md, "Rate limits across instances").
 */
export interface RateLimiter {
  /** Takes one request from `key`'s bucket; resolves 0 when allowed, else whole seconds until the next one is. */
  take(key: string): Promise<number>;
}

/**
 * Token buckets of this process, keyed by client id or address. Memory is bounded: at most `maxTracked` buckets,
 * least recently seen dropped first (a dropped key starts again with a full bucket).
 */
export class ProcessRateLimiter implements RateLimiter {
  private readonly buckets: LRUCache<string, Bucket>;

  constructor(
    private readonly limit: RateLimit,
    maxTracked: number,
    private readonly now: () => number = Date.now,
  ) {
    this.buckets = new LRUCache({ max: maxTracked });
  }

  async take(key: string): Promise<number> {
    const now = this.now();
    const rate = this.limit.requests / this.limit.perMs;
    const bucket = this.buckets.get(key) ?? { tokens: this.limit.requests, updatedAt: now };
    bucket.tokens = Math.min(this.limit.requests, bucket.tokens + (now - bucket.updatedAt) * rate);
    bucket.updatedAt = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / rate / 1000);
  }
}
