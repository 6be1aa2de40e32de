import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

/** The real bin (`dist/src/cli/main.js`, built by `npm test`), as shell scripts and CI pipelines use it. */
export const BIN = resolve('dist/src/cli/main.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], options: { env?: Record<string, string>; input?: string } = {}): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** Runs the real `serve`; resolves with its exit code, or `started` when it listened (then stops it). */
export function serveUntilListening(config: string): Promise<{ code: number | 'started'; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, 'serve', '--config', config]);
    let out = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.stdout.on('data', (c) => {
      out += c;
      if (out.includes('airflow-token-broker listening')) {
        child.kill('SIGKILL');
        clearTimeout(timer);
        done({ code: 'started', stderr });
      }
    });
    child.stderr.on('data', (c) => (stderr += c));
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code: code ?? -1, stderr });
    });
  });
}

/**
 * A config for the real `serve` on loopback (ports 0, policy `./policy.yaml` unwatched, info logs on stdout) with
 * the dev directory at `directoryIssuer`; `extra` YAML lines are appended.
 */
export function serveConfig(directoryIssuer: string, extra: string[] = []): string {
  return [
    'issuer: http://127.0.0.1:8400',
    'server: { port: 0, ops: { port: 0 } }',
    'policy_file: ./policy.yaml',
    'policy_watch: false',
    'directories:',
    `  dev: { issuer: "${directoryIssuer}", allow_insecure_http: true, client_credentials: { audience: urn:airflow-token-broker } }`,
    'upstreams: { prod: { audience: https://airflow.example } }',
    'logging: { level: info }',
    'audit: { destination: stderr }',
    ...extra,
    '',
  ].join('\n');
}
