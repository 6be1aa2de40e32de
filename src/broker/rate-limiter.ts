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
 * Token buckets keyed by client id or address. Memory is bounded: at most `maxTracked` buckets, least
 * recently seen dropped first (a dropped key starts again with a full bucket).
 */
export class RateLimiter {
  private readonly buckets: LRUCache<string, Bucket>;

  constructor(
    private readonly limit: RateLimit,
    maxTracked: number,
    private readonly now: () => number = Date.now,
  ) {
    this.buckets = new LRUCache({ max: maxTracked });
  }

  /** Takes one request from `key`'s bucket; returns 0 when allowed, else seconds until the next is. */
  take(key: string): number {
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

  get size(): number {
    return this.buckets.size;
  }
}
