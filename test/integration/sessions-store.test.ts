import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { DatabaseSync } from 'node:sqlite';
import { buildErrorResponse } from '../../src/errors/error-response.js';
import { OAuthError } from '../../src/errors/oauth-error.js';
import type { ExpiringStore } from '../../src/sessions/expiring-store.js';
import { RedisExpiringStore } from '../../src/sessions/redis-expiring-store.js';
import { SqliteExpiringStore } from '../../src/sessions/sqlite-expiring-store.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';

/**
 * The shared ExpiringStore implementations against their real back ends: an SQLite file opened by two instances,
 * and a real redis-server two instances connect to. "Two instances" are two store objects on one back end, as two
 * broker processes would hold them.
 */
let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => redis.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(100);
  }
}

/** Two instances over one back end, bounded at `maxEntries`. */
type Pair = (maxEntries: number) => Promise<[ExpiringStore, ExpiringStore]>;

async function expectUnavailable(operation: Promise<unknown>): Promise<void> {
  const err = await operation.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OAuthError);
  const answer = buildErrorResponse(err, { scheme: 'Bearer', realm: 'test' });
  expect(answer.status).toBe(503);
  expect(answer.body).toMatchObject({ error: 'temporarily_unavailable', error_description: expect.stringContaining('session store') });
  expect(Number(answer.headers['Retry-After'])).toBeGreaterThan(0);
}

function expiringStoreContract(pair: Pair): void {
  let a: ExpiringStore;
  let b: ExpiringStore;
  let opened: ExpiringStore[] = [];
  const open = async (max = 100) => {
    [a, b] = await pair(max);
    opened = [a, b];
  };
  afterEach(async () => {
    await Promise.all(opened.map((s) => s.close()));
    opened = [];
  });

  it('an entry set on one instance is read, replaced and deleted through the other', async () => {
    await open();
    await a.set('session:s1', 'v1', 60_000);
    expect(await b.get('session:s1')).toBe('v1');
    await b.set('session:s1', 'v2', 60_000);
    expect(await a.get('session:s1')).toBe('v2');
    await a.delete('session:s1');
    expect(await b.get('session:s1')).toBeUndefined();
    expect(await b.get('session:never-set')).toBeUndefined();
  });

  it('forgets an entry at its ttl: neither get nor take finds it afterwards', async () => {
    await open();
    await a.set('login:short', 'pending', 600);
    await a.set('login:long', 'pending', 60_000);
    expect(await b.get('login:short')).toBe('pending');
    await sleep(800);
    expect(await b.get('login:short')).toBeUndefined();
    expect(await a.take('login:short')).toBeUndefined();
    expect(await b.get('login:long')).toBe('pending');
  });

  it('take-once-under-concurrency: of two instances racing to take one code, exactly one gets it', async () => {
    await open();
    for (let i = 0; i < 20; i++) {
      await a.set(`code:${i}`, `grant-${i}`, 60_000);
      const results = await Promise.all([a.take(`code:${i}`), b.take(`code:${i}`), a.take(`code:${i}`), b.take(`code:${i}`)]);
      expect(results.filter((v) => v !== undefined)).toEqual([`grant-${i}`]);
      expect(await a.get(`code:${i}`)).toBeUndefined();
    }
  });

  it('is bounded: past max_entries a new key is refused (503) and nothing live is evicted', async () => {
    await open(3);
    await a.set('session:1', 'one', 60_000);
    await b.set('session:2', 'two', 60_000);
    await a.set('session:3', 'three', 60_000);
    await expectUnavailable(b.set('session:4', 'four', 60_000));
    expect(await a.get('session:4')).toBeUndefined();
    expect([await a.get('session:1'), await b.get('session:2'), await a.get('session:3')]).toEqual(['one', 'two', 'three']);
    // Refreshing a live entry (a session's idle timeout) is never refused.
    await b.set('session:2', 'two, touched', 60_000);
    expect(await a.get('session:2')).toBe('two, touched');
    // A taken or deleted entry frees its place.
    expect(await b.take('session:1')).toBe('one');
    await a.set('session:4', 'four', 60_000);
    await expectUnavailable(a.set('session:5', 'five', 60_000));
    await b.delete('session:3');
    await a.set('session:5', 'five', 60_000);
    expect(await b.get('session:5')).toBe('five');
  });

  it('an expired entry does not count against max_entries', async () => {
    await open(2);
    await a.set('login:old', 'x', 300);
    await a.set('session:kept', 'y', 60_000);
    await expectUnavailable(b.set('session:new', 'z', 60_000));
    await sleep(500);
    await b.set('session:new', 'z', 60_000);
    expect([await a.get('session:kept'), await a.get('session:new'), await a.get('login:old')]).toEqual(['y', 'z', undefined]);
  });
}

describe('SqliteExpiringStore on one file', () => {
  let n = 0;
  const dir = mkdtempSync(join(tmpdir(), 'atb-sessions-'));
  expiringStoreContract(async (maxEntries) => {
    const file = join(dir, `sessions-${++n}.sqlite`);
    return [new SqliteExpiringStore({ file, maxEntries }), new SqliteExpiringStore({ file, maxEntries })];
  });

  it('sqlite-store-locked: a store it cannot write in time is the 503 naming the session store, and the write did not happen', async () => {
    const file = join(dir, 'locked.sqlite');
    const store = new SqliteExpiringStore({ file, maxEntries: 10, busyTimeoutMs: 100 });
    const other = new DatabaseSync(file);
    try {
      await store.set('session:before', 'v', 60_000);
      other.exec('BEGIN EXCLUSIVE');
      await expectUnavailable(store.set('session:during', 'v', 60_000));
      await expectUnavailable(store.take('session:before'));
      other.exec('ROLLBACK');
      expect(await store.get('session:during')).toBeUndefined();
      expect(await store.take('session:before')).toBe('v');
    } finally {
      other.close();
      await store.close();
    }
  });

  it('take-once-across-threads: two threads taking the same codes from one file at once never both get one', async () => {
    const file = join(dir, 'threads.sqlite');
    const codes = Array.from({ length: 2_000 }, (_, i) => `code:${i}`);
    const setup = new SqliteExpiringStore({ file, maxEntries: 10_000 });
    for (const code of codes) await setup.set(code, code, 60_000);
    await setup.close();
    // Each thread loads the built store (npm test builds dist/ first), as another broker process would.
    const storeModule = pathToFileURL(resolve('dist/src/sessions/sqlite-expiring-store.js')).href;
    // Both threads open the file, then start taking together (a start signal), so their takes interleave.
    const source = `
      const { workerData, parentPort } = require('node:worker_threads');
      import(workerData.storeModule).then(({ SqliteExpiringStore }) => {
        // A lock wait as long as the test: each thread takes in a tight loop, so on a loaded machine one can hold the
        // write lock past the 5 s default while the other waits (a 503 then, which the store is right to answer);
        // what this test pins is that no code is taken twice, not how fast a thread gets the lock.
        const store = new SqliteExpiringStore({ file: workerData.file, maxEntries: 10000, busyTimeoutMs: 60000 });
        parentPort.once('message', async () => {
          const taken = [];
          for (const code of workerData.codes) if ((await store.take(code)) !== undefined) taken.push(code);
          store.close();
          parentPort.postMessage(taken);
        });
        parentPort.postMessage('ready');
      });`;
    const workers = [0, 1].map(() => new Worker(source, { eval: true, workerData: { file, codes, storeModule } }));
    const next = (w: Worker) =>
      new Promise<unknown>((done, fail) => {
        w.once('message', done);
        w.once('error', fail);
      });
    await Promise.all(workers.map(next));
    const results = workers.map(next);
    for (const w of workers) w.postMessage('go');
    const [one, two] = (await Promise.all(results)) as [string[], string[]];
    expect(one.filter((c) => two.includes(c))).toEqual([]);
    expect([...one, ...two].sort()).toEqual([...codes].sort());
  });

  it('session-file-readable-by-others: the file (and its WAL) is created 0600, as it holds minted tokens', async () => {
    const file = join(dir, 'private', 'sessions.sqlite');
    const previous = process.umask(0o022);
    const store = new SqliteExpiringStore({ file, maxEntries: 10 });
    try {
      await store.set('session:x', 'secret', 60_000);
      for (const f of [file, `${file}-wal`]) expect((statSync(f).mode & 0o777).toString(8)).toBe('600');
      expect((statSync(join(dir, 'private')).mode & 0o777).toString(8)).toBe('700');
    } finally {
      process.umask(previous);
      await store.close();
    }
  });

  it('expired rows are purged from the file, not only hidden', async () => {
    let now = 1_000_000;
    const file = join(dir, 'purge.sqlite');
    const store = new SqliteExpiringStore({ file, maxEntries: 10, now: () => now });
    try {
      await store.set('login:a', 'x', 1_000);
      await store.set('session:b', 'y', 60_000);
      now += 2_000;
      store.purgeExpired();
      const rows = new DatabaseSync(file, { readOnly: true });
      expect(rows.prepare('SELECT count(*) AS n FROM expiring_entries').get()).toEqual(expect.objectContaining({ n: 1 }));
      rows.close();
    } finally {
      await store.close();
    }
  });
});

describe('RedisExpiringStore on one redis-server', () => {
  const connect = (keyPrefix: string, maxEntries: number) =>
    RedisExpiringStore.connect({ url: redis.url, keyPrefix, connectTimeoutMs: 2_000, maxEntries });
  expiringStoreContract(async (maxEntries) => {
    const prefix = `test:${Math.random()}:`;
    return [await connect(prefix, maxEntries), await connect(prefix, maxEntries)];
  });

  it('key_prefix separates stores sharing one Redis (and bounds each alone)', async () => {
    const one = await connect('one:', 1);
    const two = await connect('two:', 1);
    try {
      await one.set('session:x', 'from one', 60_000);
      await two.set('session:y', 'from two', 60_000);
      expect(await two.get('session:x')).toBeUndefined();
      expect(await one.get('session:x')).toBe('from one');
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('redis-down-is-503: every operation of a store whose Redis is down is the 503 naming the session store, and it recovers', async () => {
    const own = await startRedis();
    const store = await RedisExpiringStore.connect({ url: own.url, keyPrefix: 'down:', connectTimeoutMs: 2_000, maxEntries: 10 });
    try {
      await store.set('session:kept', 'v', 60_000);
      await own.stop();
      await sleep(200);
      await expectUnavailable(store.get('session:kept'));
      await expectUnavailable(store.set('session:new', 'v', 60_000));
      await expectUnavailable(store.take('code:x'));
      await expectUnavailable(store.delete('session:kept'));
      // A Redis back on its address (its data lost here: nothing persisted) is used again without a restart.
      const back = await startRedis(Number(new URL(own.url).port));
      try {
        await until(async () => (await store.get('session:kept').then(() => true, () => false)));
        await store.set('session:new', 'v', 60_000);
        expect(await store.take('session:new')).toBe('v');
      } finally {
        await back.stop();
      }
    } finally {
      await store.close();
    }
  });
});
