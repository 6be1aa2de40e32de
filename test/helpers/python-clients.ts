import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BIN, type CliResult } from './run-cli.js';

/**
 * The virtualenv of the clients app developers use (scripts/clients/ensure-venv.sh: apache-airflow-client,
 * airflowctl, Authlib, httpx, requests), built into the cache on first use and reused. Call it before any broker
 * runs in this process: it blocks.
 */
export function clientsVenv(): string {
  const res = spawnSync(resolve('scripts/clients/ensure-venv.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (res.status !== 0) throw new Error(`scripts/clients/ensure-venv.sh failed:\n${res.stderr}`);
  return res.stdout.trim().split('\n').at(-1)!;
}

/**
 * A directory with an `airflow-token-broker` on it: the real bin (dist/, built by `npm test`), told that the
 * loopback test broker's http issuer is fine, so the documented shell snippets run unchanged.
 */
export function brokerCliOnPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'atb-bin-'));
  const shim = join(dir, 'airflow-token-broker');
  writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@" --insecure-http\n`);
  chmodSync(shim, 0o755);
  return dir;
}

export interface ClientRunOptions {
  venv: string;
  /** Directories put first on PATH after the venv's bin/. */
  path?: string[];
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}

/**
 * Runs a client program (a snippet of docs/app-developers.md) with the venv's bin/ first on PATH. Asynchronous:
 * the broker under test answers from this same process.
 */
export function runClient(command: string, args: string[], options: ClientRunOptions): Promise<CliResult> {
  const PATH = [join(options.venv, 'bin'), ...(options.path ?? []), process.env.PATH ?? ''].join(':');
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env, PATH, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' } });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end();
  });
}
