import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../scripts/airflow-server.js';
import { BIN } from '../helpers/run-cli.js';

/** The real `serve` with Redis as the session store while that Redis cannot be reached. */
async function serveWithUnreachableSessionRedis(workers: number): Promise<{ code: number | null | 'timeout'; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'atb-session-start-'));
  writeFileSync(join(dir, 'policy.yaml'), readFileSync('examples/policy.yaml'));
  writeFileSync(
    join(dir, 'config.yaml'),
    [
      'issuer: http://127.0.0.1:8400',
      `server: { port: 0, workers: ${workers}, ops: { port: 0 } }`,
      'policy_file: ./policy.yaml',
      'policy_watch: false',
      'directories: { corp: { issuer: "http://127.0.0.1:9/realms/corp", allow_insecure_http: true } }',
      'upstreams: { prod: { audience: https://airflow.example } }',
      'login:',
      '  directory: corp',
      '  client_id: airflow-token-broker-console',
      '  client_secret: ${ATB_TEST_LOGIN_SECRET}',
      '  session_store: { store: redis, redis: { url: "${ATB_TEST_SESSION_REDIS_URL}", connect_timeout: 1s } }',
      'audit: { destination: stderr }',
      '',
    ].join('\n'),
  );
  const child = spawn(process.execPath, [BIN, 'serve', '--config', join(dir, 'config.yaml')], {
    env: { ...process.env, ATB_TEST_LOGIN_SECRET: 'x', ATB_TEST_SESSION_REDIS_URL: `redis://127.0.0.1:${await freePort()}` },
  });
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000))]);
  child.kill('SIGKILL');
  return { code, output };
}

it.each([1, 2])('session-store-unreachable-at-start: serve with %i worker(s) exits 1 naming the session store, never serving logins alone', async (workers) => {
  const { code, output } = await serveWithUnreachableSessionRedis(workers);
  expect({ code, output }).toMatchObject({ code: 1 });
  expect(output).toMatch(/session store: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+ within 1s/);
  expect(output).not.toContain('worker died');
});
