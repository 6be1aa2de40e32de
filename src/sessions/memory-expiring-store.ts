import { LRUCache } from 'lru-cache';
import type { ExpiringStore } from './expiring-store.js';

/**
 * One process's store, for a single instance and for tests. Bounded: past `maxEntries` the least recently used
 * entry goes (for sessions: its person logs in again), so a flood of logins cannot exhaust memory.
 */
export class MemoryExpiringStore implements ExpiringStore {
  private readonly entries: LRUCache<string, string>;

  constructor(options: { maxEntries: number; now?: () => number }) {
    const now = options.now ?? Date.now;
    this.entries = new LRUCache({ max: options.maxEntries, ttlResolution: 0, perf: { now } });
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.entries.set(key, value, { ttl: Math.max(1, Math.ceil(ttlMs)) });
  }

  async get(key: string): Promise<string | undefined> {
    return this.entries.get(key);
  }

  async take(key: string): Promise<string | undefined> {
    const value = this.entries.get(key);
    this.entries.delete(key);
    return value;
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }

  close(): void {
    this.entries.clear();
  }
}
