import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface WrkRequest {
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** Sent as is; the bench only sends form-encoded ASCII bodies. */
  body?: string;
}

export interface WrkResult {
  requests: number;
  durationS: number;
  requestsPerSecond: number;
  latencyMs: { mean: number; p50: number; p90: number; p99: number; max: number };
  /** `status` counts answers >= 400; the others are socket errors and timeouts. */
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  errorCount: number;
}

export interface WrkRun {
  url: string;
  script: string;
  threads: number;
  connections: number;
  durationS: number;
  timeoutS: number;
}

const MARK = 'WRK_JSON ';

/** Makes sure `wrk` is on PATH: installs Debian's package when running as root, otherwise says how. */
export function ensureWrk(): string {
  const probe = () => spawnSync('wrk', ['-v'], { encoding: 'utf8' });
  let found = probe();
  if (found.error && process.getuid?.() === 0) {
    process.stderr.write('wrk is not on PATH; installing Debian package wrk (apt-get)...\n');
    const install = spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (install.status !== 0) throw new Error('installing wrk failed: run `apt-get update && apt-get install -y wrk` and retry');
    found = probe();
  }
  if (found.error) throw new Error('wrk is not on PATH: install it (`apt-get install -y wrk` on Debian/Ubuntu) and retry');
  return `${found.stdout}${found.stderr}`.split('\n')[0]!.trim();
}

const long = (s: string) => {
  if (s.includes(']==]')) throw new Error('unexpected Lua delimiter in request');
  return `[==[${s}]==]`;
};

/** Lua `done()` that prints the summary as one JSON line, which is sturdier than reading wrk's human output. */
const SUMMARY_LUA = [
  'done = function(summary, latency, requests)',
  '  local e = summary.errors',
  '  io.write(string.format(',
  `    '${MARK}{"requests":%.0f,"duration_us":%.0f,"errors":{"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f},' ..`,
  `    '"latency_us":{"mean":%.1f,"p50":%.0f,"p90":%.0f,"p99":%.0f,"max":%.0f}}\\n',`,
  '    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,',
  '    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))',
  'end',
];

function requestLua(request: WrkRequest): string[] {
  const lines = [`wrk.method = ${long(request.method)}`];
  for (const [header, value] of Object.entries(request.headers ?? {})) lines.push(`wrk.headers[ ${long(header)} ] = ${long(value)}`);
  if (request.body !== undefined) lines.push(`wrk.body = ${long(request.body)}`);
  return lines;
}

/** Writes the Lua script of one request shape into `dir`. */
export function writeWrkScript(dir: string, name: string, request: WrkRequest): string {
  const path = join(dir, `${name}.lua`);
  writeFileSync(path, [...requestLua(request), ...SUMMARY_LUA].join('\n') + '\n');
  return path;
}

/**
 * Writes a Lua script that sends `request` with a different bearer token each time: wrk thread i reads
 * `tokenFiles[i]` line by line (streamed, so a million tokens cost wrk no memory) and starts over at its end.
 * There must be one file per wrk thread.
 */
export function writeBearerCyclingScript(dir: string, name: string, request: WrkRequest, tokenFiles: string[]): string {
  const lines = [
    ...requestLua(request),
    `local files = { ${tokenFiles.map(long).join(', ')} }`,
    'local next_thread = 1',
    'setup = function(thread)',
    '  thread:set("token_file", files[next_thread])',
    '  next_thread = next_thread + 1',
    'end',
    'local tokens',
    'init = function(args)',
    '  tokens = assert(io.open(token_file, "r"))',
    'end',
    'request = function()',
    '  local token = tokens:read("*l")',
    '  if not token then',
    '    tokens:seek("set")',
    '    token = tokens:read("*l")',
    '  end',
    '  wrk.headers["Authorization"] = "Bearer " .. token',
    '  return wrk.format()',
    'end',
    ...SUMMARY_LUA,
  ];
  const path = join(dir, `${name}.lua`);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

interface RawSummary {
  requests: number;
  duration_us: number;
  errors: WrkResult['errors'];
  latency_us: { mean: number; p50: number; p90: number; p99: number; max: number };
}

/** Runs wrk once (bounded by `durationS`) and returns its summary. */
export async function runWrk(run: WrkRun): Promise<WrkResult> {
  const args = ['-t', String(run.threads), '-c', String(run.connections), '-d', `${run.durationS}s`, '--timeout', `${run.timeoutS}s`];
  args.push('--latency', '-s', run.script, run.url);
  const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const killer = setTimeout(() => child.kill('SIGKILL'), (run.durationS + run.timeoutS + 10) * 1000);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  }).finally(() => clearTimeout(killer));
  const line = stdout.split('\n').find((l) => l.startsWith(MARK));
  if (code !== 0 || !line) throw new Error(`wrk ${args.join(' ')} failed (exit ${String(code)}):\n${stderr}${stdout}`);
  const raw = JSON.parse(line.slice(MARK.length)) as RawSummary;
  const ms = (us: number) => Math.round(us) / 1000;
  const durationS = raw.duration_us / 1e6;
  const errorCount = Object.values(raw.errors).reduce((a, b) => a + b, 0);
  return {
    requests: raw.requests,
    durationS,
    requestsPerSecond: raw.requests / durationS,
    latencyMs: { mean: ms(raw.latency_us.mean), p50: ms(raw.latency_us.p50), p90: ms(raw.latency_us.p90), p99: ms(raw.latency_us.p99), max: ms(raw.latency_us.max) },
    errors: raw.errors,
    errorCount,
  };
}
