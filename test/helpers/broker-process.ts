import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN } from './run-cli.js';

/** A real `serve` process (dist/src/cli/main.js) with its config in a temporary directory. */
export interface BrokerProcess {
  child: ChildProcessWithoutNullStreams;
  dir: string;
  url: string;
  opsUrl: string;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or signal) once it has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILLs it if it still runs (for `finally`). */
  kill(): void;
}

/**
 * Writes `config` (YAML lines; `policy_file: ./policy.yaml` gets `policy`) and starts `serve` on it; resolves once
 * it logged its URL and ops URL, and `listening` lines as many as `listeners` (workers).
 */
export async function spawnBroker(config: string[], options: { policy?: string; listeners?: number; env?: Record<string, string> } = {}): Promise<BrokerProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'atb-process-'));
  writeFileSync(join(dir, 'policy.yaml'), options.policy ?? readFileSync('examples/policy.yaml'));
  writeFileSync(join(dir, 'config.yaml'), [...config, ''].join('\n'));
  const child = spawn(process.execPath, [BIN, 'serve', '--config', join(dir, 'config.yaml')], { env: { ...process.env, ...options.env } });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let gone = false;
  void exited.then(() => (gone = true));
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  try {
    const context = () => (gone ? 'exited' : 'still running') + `; output:\n${out}`;
    const url = await waitFor(() => /"url":"(http:[^"]+)"/.exec(out)?.[1], () => gone, context);
    const opsUrl = await waitFor(() => /"ops_url":"(http:[^"]+)"/.exec(out)?.[1], () => gone, context);
    await waitFor(() => ((out.match(/airflow-token-broker listening/g)?.length ?? 0) >= (options.listeners ?? 1) ? true : undefined), () => gone, context);
    return { child, dir, url, opsUrl, output: () => out, exited, kill };
  } catch (err) {
    kill();
    throw err;
  }
}

async function waitFor<T>(probe: () => T | undefined, gone: () => boolean, context: () => string, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && !gone()) {
    const value = probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`the broker did not start (${context()})`);
}
