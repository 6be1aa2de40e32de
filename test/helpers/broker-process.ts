import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../scripts/airflow-server.js';
import { BIN } from './run-cli.js';

/** A real `serve` process (the built bin), as an orchestrator runs one instance. */
export interface BrokerProcess {
  name: string;
  url: string;
  port: number;
  opsPort: number;
  child: ChildProcess;
  /** The last lines it wrote (logs on stdout, audit on stderr), for failure messages. */
  output(): string;
  /** SIGKILL: an instance that dies without draining. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts `serve` with `config` (YAML, relative paths against `dir`) written to `<dir>/<name>.yaml` and its own
 * free ports appended (`server.port`, `server.ops.port`); resolves once it listens and `/readyz` answers 200.
 */
export async function startBrokerProcess(name: string, dir: string, config: (ports: { port: number; opsPort: number }) => string, env: Record<string, string> = {}): Promise<BrokerProcess> {
  const [port, opsPort] = [await freePort(), await freePort()];
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, config({ port, opsPort }));
  const child = spawn(process.execPath, [BIN, 'serve', '--config', file], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (c: Buffer) => (out = (out + c.toString()).slice(-8000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const signal = async (s: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(s);
    await exited;
  };
  const broker: BrokerProcess = { name, url: `http://127.0.0.1:${port}`, port, opsPort, child, output: () => out, kill: () => signal('SIGKILL'), stop: () => signal('SIGTERM') };
  const end = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`broker ${name} exited ${child.exitCode}:\n${out}`);
    const ready = await fetch(`http://127.0.0.1:${opsPort}/readyz`).then((r) => r.status === 200, () => false);
    if (ready) return broker;
    if (Date.now() > end) {
      await broker.kill();
      throw new Error(`broker ${name} not ready within 20s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
