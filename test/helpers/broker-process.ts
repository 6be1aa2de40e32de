import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../scripts/airflow-server.js';
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

export interface SpawnOptions {
  policy?: string;
  listeners?: number;
  env?: Record<string, string>;
  /** A folder several instances share (their keys, revocation file); default a new temporary one. */
  dir?: string;
  /** The config file's name in `dir` (several instances in one folder): `<name>.yaml`. */
  name?: string;
  /** Where the config makes it listen: then it is started when `<opsUrl>/readyz` answers 200, whatever it logs. */
  urls?: { url: string; opsUrl: string };
}

/**
 * Writes `config` (YAML lines; `policy_file: ./policy.yaml` gets `policy`, or the example policy unless the folder
 * has one) and starts `serve` on it; resolves once it logged its URL and ops URL, and `listening` lines as many as
 * `listeners` (workers).
 */
export async function spawnBroker(config: string[], options: SpawnOptions = {}): Promise<BrokerProcess> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'atb-process-'));
  const policy = join(dir, 'policy.yaml');
  if (options.policy !== undefined || !existsSync(policy)) writeFileSync(policy, options.policy ?? readFileSync('examples/policy.yaml'));
  const file = join(dir, `${options.name ?? 'config'}.yaml`);
  writeFileSync(file, [...config, ''].join('\n'));
  const child = spawn(process.execPath, [BIN, 'serve', '--config', file], { env: { ...process.env, ...options.env } });
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
    const broker = { child, dir, output: () => out, exited, kill };
    if (options.urls) {
      await untilReady(options.urls.opsUrl, () => gone, context);
      return { ...broker, ...options.urls };
    }
    const url = await waitFor(() => /"url":"(http:[^"]+)"/.exec(out)?.[1], () => gone, context);
    const opsUrl = await waitFor(() => /"ops_url":"(http:[^"]+)"/.exec(out)?.[1], () => gone, context);
    await waitFor(() => ((out.match(/airflow-token-broker listening/g)?.length ?? 0) >= (options.listeners ?? 1) ? true : undefined), () => gone, context);
    return { ...broker, url, opsUrl };
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

async function untilReady(opsUrl: string, gone: () => boolean, context: () => string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && !gone()) {
    if (await fetch(`${opsUrl}/readyz`).then((r) => r.status === 200, () => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the broker did not become ready (${context()})`);
}

/** One of several instances of a deployment, as an orchestrator runs them: its own ports, a shared folder. */
export interface BrokerInstance {
  name: string;
  url: string;
  port: number;
  opsPort: number;
  child: ChildProcessWithoutNullStreams;
  output(): string;
  /** SIGKILL: an instance that dies without draining. */
  kill(): Promise<void>;
  /** SIGTERM, then its exit. */
  stop(): Promise<void>;
}

/**
 * Starts `serve` with `config` (YAML, relative paths against `dir`) written to `<dir>/<name>.yaml`, on free ports it
 * is given (`server.port`, `server.ops.port`, on 127.0.0.1); resolves once its `/readyz` answers 200.
 */
export async function startBrokerProcess(name: string, dir: string, config: (ports: { port: number; opsPort: number }) => string, env: Record<string, string> = {}): Promise<BrokerInstance> {
  const [port, opsPort] = [await freePort(), await freePort()];
  const urls = { url: `http://127.0.0.1:${port}`, opsUrl: `http://127.0.0.1:${opsPort}` };
  const broker = await spawnBroker(config({ port, opsPort }).split('\n'), { dir, name, env, urls });
  const signal = async (s: NodeJS.Signals) => {
    if (broker.child.exitCode === null && broker.child.signalCode === null) broker.child.kill(s);
    await broker.exited;
  };
  return { name, url: broker.url, port, opsPort, child: broker.child, output: broker.output, kill: () => signal('SIGKILL'), stop: () => signal('SIGTERM') };
}
