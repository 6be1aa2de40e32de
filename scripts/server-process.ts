import { spawn } from 'node:child_process';
import { once } from 'node:events';

/** A real peer (Airflow, Keycloak) started by a script, leading its own process group. */
export interface ServerProcess {
  running(): boolean;
  /** The last lines it wrote (stdout and stderr), for a failure message. */
  logTail(): string;
  /** How it ended, e.g. `exit code 1` (only meaningful once it is not running). */
  howItEnded(): string;
  /** SIGTERM to the whole group, SIGKILL after 15 s; resolves once the leader has exited. */
  stop(): Promise<void>;
}

const keptLines = 60;

/**
 * Spawns `command` as the leader of a new process group: such servers fork workers (Airflow) or run behind a
 * launcher script (Keycloak's kc.sh), and only signalling the group stops them all. The group is killed if the
 * test process exits first.
 */
export function spawnServer(command: string, args: string[], env: NodeJS.ProcessEnv): ServerProcess {
  const child = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
  const tail: string[] = [];
  const keep = (chunk: Buffer) => {
    tail.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    tail.splice(0, Math.max(0, tail.length - keptLines));
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = once(child, 'exit');
  let running = true;
  void exited.then(() => (running = false));

  const killGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  };
  const groupAlive = () => {
    try {
      return child.pid !== undefined && process.kill(-child.pid, 0);
    } catch {
      return false;
    }
  };
  const onExit = () => killGroup('SIGKILL');
  process.once('exit', onExit);

  return {
    running: () => running,
    logTail: () => tail.join('\n'),
    howItEnded: () => (child.signalCode ? `signal ${child.signalCode}` : `exit code ${child.exitCode}`),
    async stop() {
      process.removeListener('exit', onExit);
      if (running) killGroup('SIGTERM');
      // The leader can exit before the rest of its group (start.sh before the scheduler it started, which then holds
      // our stdout pipe and keeps jest alive): wait for the whole group, then kill whatever is left of it.
      const deadline = Date.now() + 15_000;
      while (groupAlive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      killGroup('SIGKILL');
      await exited;
    },
  };
}

/** Whether `url` answers 200 within 2 s (a readiness poll: any failure is "not yet"). */
export async function answersOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}

/**
 * Polls `healthUrl` every 500 ms until it answers 200. If the server exits first or `timeoutMs` passes, stops it
 * and throws with its last output (`what` names it in the message, e.g. `Airflow on http://127.0.0.1:28095`).
 */
export async function waitUntilHealthy(server: ServerProcess, healthUrl: string, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && server.running()) {
    if (await answersOk(healthUrl)) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  const why = server.running() ? `not healthy after ${timeoutMs} ms` : `its start script exited (${server.howItEnded()}) before it was healthy`;
  await server.stop();
  throw new Error(`${what}: ${why}; last output:\n${server.logTail()}`);
}
