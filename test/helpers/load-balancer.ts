import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../scripts/airflow-server.js';

/** One broker instance as the balancer sees it: its listener, and its ops listener for health checks. */
export interface Backend {
  name: string;
  port: number;
  opsPort: number;
}

export interface LoadBalancer {
  url: string;
  /** The configuration it runs (docs/operations.md, "Several instances behind a load balancer", explains it). */
  config: string;
  stop(): Promise<void>;
}

/**
 * HAProxy as an operator would put it in front of broker instances: round robin, `/readyz` checked on each ops
 * listener, and a request that found no usable connection (refused, reset before any answer) retried once on
 * another instance. `checkIntervalMs` is short in tests; production values are in docs/operations.md.
 */
export function haproxyConfig(port: number, backends: readonly Backend[], checkIntervalMs = 250): string {
  return [
    'global',
    '  maxconn 1000',
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout client 30s',
    '  timeout server 30s',
    // A request whose instance died before answering goes to another one: a token request or a proxied call
    // that never reached the broker's handler, or whose answer never started, is safe to send again.
    '  retries 2',
    '  option redispatch 1',
    '  retry-on conn-failure empty-response response-timeout',
    'frontend broker',
    `  bind 127.0.0.1:${port}`,
    '  default_backend brokers',
    'backend brokers',
    '  balance roundrobin',
    '  option httpchk GET /readyz',
    '  http-check expect status 200',
    `  default-server inter ${checkIntervalMs}ms fall 2 rise 1`,
    ...backends.map((b) => `  server ${b.name} 127.0.0.1:${b.port} check port ${b.opsPort}`),
    '',
  ].join('\n');
}

/** Debian's `haproxy` (scripts/run-tests.mjs installs it) on a free loopback port, in the foreground. */
export async function startHaproxy(backends: readonly Backend[]): Promise<LoadBalancer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'atb-haproxy-'));
  const config = haproxyConfig(port, backends);
  writeFileSync(join(dir, 'haproxy.cfg'), config);
  const child = spawn('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c) => (out = (out + c).slice(-4000)));
  child.stderr.on('data', (c) => (out = (out + c).slice(-4000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  const url = `http://127.0.0.1:${port}`;
  const end = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited ${child.exitCode}:\n${out}`);
    if (await fetch(url).then(() => true, () => false)) break;
    if (Date.now() > end) {
      await stop();
      throw new Error(`haproxy did not listen on ${url}:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, config, stop };
}
