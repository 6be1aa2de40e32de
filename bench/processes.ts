import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

export interface BenchProcess {
  name: string;
  child: ChildProcess;
  pid: number;
  /** The last lines of stderr, for a failure message. */
  stderrTail(): string;
  /** Signals the process, or its whole process group when it was spawned as a group leader. */
  kill(signal: NodeJS.Signals): void;
}

/**
 * Every process the bench starts, so that all of them are ended however the bench ends: `stopAll` on the
 * normal and the failure path, and a synchronous SIGKILL on process exit as the last resort.
 */
export class ProcessGroup {
  private readonly running = new Set<BenchProcess>();

  constructor() {
    process.once('exit', () => {
      for (const p of this.running) p.kill('SIGKILL');
    });
  }

  /** `ownGroup`: the process leads a new process group that is signalled as a whole (Airflow forks workers). */
  spawn(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = process.env, ownGroup = false): BenchProcess {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env, detached: ownGroup });
    const pid = child.pid;
    if (pid === undefined) throw new Error(`could not start ${name} (${command})`);
    const kill = (signal: NodeJS.Signals) => {
      try {
        if (ownGroup) process.kill(-pid, signal);
        else child.kill(signal);
      } catch {
        // Already gone.
      }
    };
    let tail = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      tail = (tail + chunk).slice(-4000);
    });
    const proc: BenchProcess = { name, child, pid, stderrTail: () => tail.trim(), kill };
    this.running.add(proc);
    child.once('exit', () => this.running.delete(proc));
    return proc;
  }

  /** SIGTERM (the broker drains and writes its CPU profile), then SIGKILL after `graceMs`. */
  async stopAll(graceMs = 5_000): Promise<void> {
    await Promise.all([...this.running].map((p) => this.stop(p, graceMs)));
  }

  async stop(p: BenchProcess, graceMs = 5_000): Promise<void> {
    if (p.child.exitCode !== null || p.child.signalCode !== null) return;
    const exited = once(p.child, 'exit');
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
    p.kill('SIGKILL'); // members of its process group that outlived the leader; a no-op otherwise
  }
}

/** Resolves with the first stdout line of `proc` parsed as JSON, or fails if it exits or is too slow. */
export async function firstJsonLine<T>(proc: BenchProcess, timeoutMs: number): Promise<T> {
  const lines = createInterface({ input: proc.child.stdout! });
  try {
    const line = await Promise.race([
      once(lines, 'line').then(([l]) => l as string),
      once(proc.child, 'exit').then(([code]) => {
        throw new Error(`${proc.name} exited (${String(code)}) before it was ready:\n${proc.stderrTail()}`);
      }),
      sleep(timeoutMs).then(() => {
        throw new Error(`${proc.name} printed nothing within ${timeoutMs} ms:\n${proc.stderrTail()}`);
      }),
    ]);
    return JSON.parse(line) as T;
  } finally {
    lines.close();
  }
}

/** Polls `url` until it answers 200; fails early if `proc` exits. */
export async function waitUntilReady(proc: BenchProcess, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`${proc.name} exited (${proc.child.exitCode}):\n${proc.stderrTail()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      if (res.status === 200) return;
      last = `HTTP ${res.status}: ${await res.text()}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await sleep(100);
  }
  throw new Error(`${proc.name} not ready at ${url} within ${timeoutMs} ms (${last}):\n${proc.stderrTail()}`);
}

/** A loopback port that was free a moment ago (the broker's config needs a fixed one). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('could not find a free port');
  return address.port;
}
