import { MemoryExpiringStore } from '../../../src/sessions/memory-expiring-store.js';

describe('MemoryExpiringStore', () => {
  it('forgets an entry at its ttl', async () => {
    let now = 1_000_000;
    const store = new MemoryExpiringStore({ maxEntries: 10, now: () => now });
    await store.set('session:a', 'v', 5_000);
    now += 4_999;
    expect(await store.get('session:a')).toBe('v');
    now += 2;
    expect(await store.get('session:a')).toBeUndefined();
  });

  it('a taken value is gone: a second take of the same key finds nothing', async () => {
    const store = new MemoryExpiringStore({ maxEntries: 10 });
    await store.set('code:x', 'grant', 60_000);
    const [first, second] = await Promise.all([store.take('code:x'), store.take('code:x')]);
    expect([first, second].filter((v) => v !== undefined)).toEqual(['grant']);
  });

  it('is bounded: past maxEntries the least recently used entry goes', async () => {
    const store = new MemoryExpiringStore({ maxEntries: 2 });
    await store.set('a', '1', 60_000);
    await store.set('b', '2', 60_000);
    await store.get('a');
    await store.set('c', '3', 60_000);
    expect(await store.get('b')).toBeUndefined();
    expect(await store.get('a')).toBe('1');
    expect(await store.get('c')).toBe('3');
  });
});
