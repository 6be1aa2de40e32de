import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** CPU time by thread of one process, read from /proc (Linux). */
export interface ProcessCpuSnapshot {
  threads: Map<number, { name: string; ticks: number; systemTicks: number }>;
}

/** CPU seconds spent in a window, grouped by thread role. */
export interface CpuShare {
  /** The JavaScript thread: event loop, V8 execution, main-thread GC. */
  main: number;
  /** The part of `main` spent in the kernel: socket writes on loopback, waking worker threads. */
  mainSystem: number;
  /** Other threads by name (`libuv-worker` runs WebCrypto sign/verify jobs, `V8 DefaultWorke` runs concurrent GC). */
  others: Record<string, number>;
  total: number;
}

const clockTicks = (() => {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(out.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

function ticksOf(statLine: string): { name: string; ticks: number; systemTicks: number } {
  const name = statLine.slice(statLine.indexOf('(') + 1, statLine.lastIndexOf(')'));
  const fields = statLine.slice(statLine.lastIndexOf(')') + 2).split(' ');
  // Fields after "(comm) ": state=0 ... utime=11, stime=12.
  return { name, ticks: Number(fields[11]) + Number(fields[12]), systemTicks: Number(fields[12]) };
}

/** `withDescendants`: also the threads of its child processes, recursively (Airflow's API server forks workers). */
export function snapshotProcess(pid: number, withDescendants = false): ProcessCpuSnapshot {
  const threads = new Map<number, { name: string; ticks: number; systemTicks: number }>();
  const pending = [pid];
  for (let current = pending.pop(); current !== undefined; current = pending.pop()) {
    try {
      for (const tid of readdirSync(`/proc/${current}/task`)) {
        try {
          threads.set(Number(tid), ticksOf(readFileSync(`/proc/${current}/task/${tid}/stat`, 'utf8')));
          if (withDescendants) pending.push(...readFileSync(`/proc/${current}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
        } catch {
          // The thread ended between listing and reading.
        }
      }
    } catch {
      // Not Linux, or the process is gone: no breakdown.
    }
  }
  return { threads };
}

export function cpuBetween(pid: number, before: ProcessCpuSnapshot, after: ProcessCpuSnapshot): CpuShare {
  const share: CpuShare = { main: 0, mainSystem: 0, others: {}, total: 0 };
  for (const [tid, now] of after.threads) {
    const seconds = (now.ticks - (before.threads.get(tid)?.ticks ?? 0)) / clockTicks;
    if (seconds <= 0) continue;
    if (tid === pid) {
      share.main += seconds;
      share.mainSystem += (now.systemTicks - (before.threads.get(tid)?.systemTicks ?? 0)) / clockTicks;
    }
    else share.others[now.name] = (share.others[now.name] ?? 0) + seconds;
    share.total += seconds;
  }
  return share;
}

/** Busy and total CPU seconds of the whole machine (all cores), from /proc/stat. */
export function machineTicks(): { busy: number; total: number } {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { busy: (total - idle) / clockTicks, total: total / clockTicks };
  } catch {
    return { busy: 0, total: 0 };
  }
}

/** CPU seconds of this process's children that have exited and been reaped (here: the finished wrk runs). */
export function reapedChildrenSeconds(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields after "(comm) ": cutime=13, cstime=14.
    return (Number(fields[13]) + Number(fields[14])) / clockTicks;
  } catch {
    return 0;
  }
}

/** Resident set size of a process in bytes (VmRSS in /proc/<pid>/status), undefined off Linux. */
export function residentBytes(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
