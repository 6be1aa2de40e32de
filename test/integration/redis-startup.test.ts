import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../scripts/airflow-server.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { BIN } from '../helpers/run-cli.js';

/** The real `serve` with Redis as the revocation store: a bounded start, and every reconnect attempt logged. */
const PASSWORD = 'hunter2-not-for-logs';

function serve(redisPort: number, workers = 1): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const dir = mkdtempSync(join(tmpdir(), 'atb-redis-start-'));
  writeFileSync(join(dir, 'policy.yaml'), readFileSync('examples/policy.yaml'));
  writeFileSync(
    join(dir, 'config.yaml'),
    [
      'issuer: http://127.0.0.1:8400',
      `server: { port: 0, workers: ${workers} }`,
      'policy_file: ./policy.yaml',
      'policy_watch: false',
      'directories: {}',
      'upstreams: { prod: { audience: https://airflow.example } }',
      'revocation: { store: redis, redis: { url: "${ATB_TEST_REDIS_URL}", connect_timeout: 2s } }',
      'logging: { level: info }',
      'audit: { destination: stderr }',
      '',
    ].join('\n'),
  );
  const child = spawn(process.execPath, [BIN, 'serve', '--config', join(dir, 'config.yaml')], {
    env: { ...process.env, ATB_TEST_REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:${redisPort}` },
  });
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (out += c));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, output: () => out, exited };
}

const within = <T>(p: Promise<T>, ms: number) => Promise.race([p, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms))]);

async function until(check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

it('startup-hangs-when-redis-is-unreachable: serve exits 1 after connect_timeout, saying why, never printing the password', async () => {
  const { child, output, exited } = serve(await freePort());
  try {
    const code = await within(exited, 10_000);
    expect({ code, output: output() }).toMatchObject({ code: 1 });
    expect(output()).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+ within 2s/);
    // Each retry is logged with its attempt number and the delay before it.
    expect(output()).toMatch(/"attempt":1,"delay_ms":\d+/);
    expect(output()).toMatch(/"attempt":2,"delay_ms":\d+/);
    expect(output()).not.toContain(PASSWORD);
  } finally {
    child.kill('SIGKILL');
  }
});

it('startup-hangs-when-redis-is-unreachable: with several workers too, serve exits 1 instead of restarting workers for ever', async () => {
  const { child, output, exited } = serve(await freePort(), 2);
  try {
    expect({ code: await within(exited, 10_000), output: output() }).toMatchObject({ code: 1 });
    expect(output()).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+ within 2s/);
    expect(output()).not.toContain('worker died');
  } finally {
    child.kill('SIGKILL');
  }
});

it('redis-reconnects-are-logged: once started, a lost Redis is retried with backoff and each attempt logged', async () => {
  let redis: RedisServer | undefined = await startRedis();
  const port = Number(new URL(redis.url).port);
  const { child, output, exited } = serve(port);
  try {
    await until(() => output().includes('airflow-token-broker listening'), 10_000);
    await redis.stop();
    redis = undefined;
    await until(() => /"attempt":3,"delay_ms":\d+/.test(output()), 10_000);
    expect(output()).toMatch(/Redis connection lost/);
    redis = await startRedis(port);
    await until(() => output().includes('Redis connection restored'), 10_000);
    expect(output()).not.toContain(PASSWORD);
    expect(await within(exited, 10)).toBe('timeout'); // it kept serving throughout
  } finally {
    child.kill('SIGKILL');
    await redis?.stop();
  }
});
