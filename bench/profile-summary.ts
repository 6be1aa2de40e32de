import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`) of the broker's main thread: self time by area
 * (jose, express, body parsing, pino...) and by function, and inclusive time of the broker's named steps.
 * Usage: `node dist/bench/profile-summary.js FILE.cpuprofile [TOP]`.
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Sampled main-thread time, ms; `busyMs` leaves out `(idle)`. */
  totalMs: number;
  busyMs: number;
  areas: { area: string; ms: number; pctOfBusy: number }[];
  functions: { fn: string; where: string; area: string; ms: number; pctOfBusy: number }[];
  steps: { step: string; ms: number; pctOfBusy: number }[];
}

// First match wins; order from specific to general.
const AREAS: [string, RegExp][] = [
  ['jose (JWT encode/decode, claims, WebCrypto calls)', /node_modules\/jose\//],
  ['openid-client / oauth4webapi', /node_modules\/(openid-client|oauth4webapi)\//],
  ['node WebCrypto (JS side: key handling, job dispatch)', /node:internal\/crypto\//],
  ['body parsing (body-parser, raw-body, qs, type-is, iconv)', /node_modules\/(body-parser|raw-body|qs|type-is|content-type|iconv-lite|media-typer|mime-types|mime-db|bytes|http-errors|unpipe)\//],
  ['express + router', /node_modules\/(express|router|finalhandler|on-finished|send|parseurl|path-to-regexp|depd|vary|accepts|negotiator|encodeurl|escape-html|fresh|range-parser|cookie|cookie-signature|etag|content-disposition|merge-descriptors|methods|statuses|utils-merge|proxy-addr|forwarded|ipaddr\.js|setprototypeof|safe-buffer|debug|ms)\//],
  ['helmet', /node_modules\/helmet\//],
  ['pino / logging / audit', /node_modules\/(pino|pino-std-serializers|sonic-boom|fast-redact|thread-stream|atomic-sleep|quick-format-unescaped|safe-stable-stringify|on-exit-leak-free|real-require)|audit-log|logger\.js/],
  ['prom-client (metrics)', /node_modules\/(prom-client|tdigest|bintrees)\//],
  ['lru-cache (rate limiter, token cache)', /node_modules\/lru-cache\//],
  ['undici (upstream pool)', /node_modules\/undici\//],
  ['zod', /node_modules\/zod\//],
  ['sqlite', /node:sqlite|sqlite-revocation-store/],
  ['proxy pipeline (dist/src/proxy)', /\/dist\/src\/proxy\//],
  ['route catalog + policy (dist/src/airflow, dist/src/policy)', /\/dist\/src\/(airflow|policy)\//],
  ['broker code (dist/src)', /\/dist\/src\//],
  ['node http/net/streams', /node:(internal\/)?(http|_http|net|stream|internal\/streams|internal\/stream_base|internal\/http|events|internal\/timers|timers|buffer|internal\/buffer|internal\/url|url|querystring|internal\/querystring|internal\/async_hooks|internal\/process\/task_queues|internal\/util|internal\/validators|internal\/errors)/],
  ['other node internals', /^node:/],
];

/** The broker's named steps and the library calls inside them (inclusive time): token endpoint, then proxy. */
const STEPS = [
  'assignRequestContext',
  'helmetMiddleware',
  'rejectDuplicateAuthorization',
  'requireFormEncoded',
  'urlencodedParser',
  'collectParameters',
  'rateLimitByAddressStep',
  'readClientCredentials',
  'supportedGrantCheck',
  'identifyThroughGrant',
  'verifySubjectToken',
  'authenticateClient',
  'jwtVerify',
  'compactVerify',
  'flattenedVerify',
  'decodeJwt',
  'decodeProtectedHeader',
  'signAndRespond',
  'issue',
  'resolveRoles',
  'sign',
  'randomUUID',
  'json',
  'token',
  'write',
  'writeHead',
  'end',
  'handleProxyRequest',
  'parseRequestTarget',
  'checkRequestHeaders',
  'authenticate',
  'verifyWithoutRevocation',
  'assertNotRevoked',
  'isRevoked',
  'readBody',
  'compilePrincipal',
  'match',
  'resolveChecks',
  'decide',
  'forward',
  'pipeline',
  'answerError',
  'audit',
];

function areaOf(frame: CallFrame): string {
  if (frame.url === '') {
    if (frame.functionName.startsWith('(')) return frame.functionName;
    return 'native / builtins';
  }
  return AREAS.find(([, re]) => re.test(frame.url))?.[0] ?? 'other';
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const dist = url.indexOf('/dist/');
  return dist >= 0 ? url.slice(dist + 1) : url;
}

export function summarizeProfile(profile: CpuProfile, top = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const selfUs = new Map<number, number>();
  // A sample's time is the delta to the next sample.
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
  }

  let totalUs = 0;
  let idleUs = 0;
  const areas = new Map<string, number>();
  const functions = new Map<string, { fn: string; where: string; area: string; us: number }>();
  const steps = new Map<string, number>();
  const stepSet = new Set(STEPS);
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const frame = node.callFrame;
    totalUs += us;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const area = areaOf(frame);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const where = frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : '';
    const key = `${frame.functionName}@${where}`;
    const f = functions.get(key) ?? { fn: frame.functionName || '(anonymous)', where, area, us: 0 };
    f.us += us;
    functions.set(key, f);
    // Inclusive: count this sample once for every distinct step name on its stack.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const name = byId.get(cur)!.callFrame.functionName;
      if (stepSet.has(name) && !seen.has(name)) {
        seen.add(name);
        steps.set(name, (steps.get(name) ?? 0) + us);
      }
    }
  }
  const busyUs = totalUs - idleUs;
  const pct = (us: number) => Math.round((1000 * us) / busyUs) / 10;
  const ms = (us: number) => Math.round(us / 100) / 10;
  return {
    totalMs: ms(totalUs),
    busyMs: ms(busyUs),
    areas: [...areas].sort((a, b) => b[1] - a[1]).map(([area, us]) => ({ area, ms: ms(us), pctOfBusy: pct(us) })),
    functions: [...functions.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => ({ fn: f.fn, where: f.where, area: f.area, ms: ms(f.us), pctOfBusy: pct(f.us) })),
    steps: STEPS.filter((s) => steps.has(s)).map((step) => ({ step, ms: ms(steps.get(step)!), pctOfBusy: pct(steps.get(step)!) })),
  };
}

export function formatProfileSummary(s: ProfileSummary): string {
  const out: string[] = [];
  out.push(`main thread: ${s.totalMs} ms sampled, ${s.busyMs} ms busy (${Math.round((1000 * s.busyMs) / s.totalMs) / 10}%)`);
  out.push('', 'self time by area (% of busy main-thread time)');
  for (const a of s.areas) out.push(`  ${a.pctOfBusy.toFixed(1).padStart(5)}%  ${String(a.ms).padStart(9)} ms  ${a.area}`);
  out.push('', 'inclusive time of steps and calls (a sample counts once per name on its stack; a middleware also');
  out.push('includes the steps it reaches synchronously through next(), so these overlap)');
  for (const st of s.steps) out.push(`  ${st.pctOfBusy.toFixed(1).padStart(5)}%  ${String(st.ms).padStart(9)} ms  ${st.step}`);
  out.push('', 'top functions by self time');
  for (const f of s.functions) out.push(`  ${f.pctOfBusy.toFixed(1).padStart(5)}%  ${String(f.ms).padStart(9)} ms  ${f.fn}  ${f.where}  [${f.area}]`);
  return out.join('\n');
}

/** One profiled process and the requests that went through it during its life. */
export interface ProfiledProcess {
  name: string;
  summary: ProfileSummary;
  requests: number;
}

const perRequest = (ms: number, requests: number) => (requests > 0 ? (1000 * ms) / requests : NaN);
const column = (text: string, width: number) => (text.length > width ? text.slice(0, width - 1) + '~' : text.padEnd(width));

/**
 * The profiled processes side by side: main-thread busy µs per request in total and by area (one row per area,
 * one column per process), then each process's top functions in µs per request, in columns.
 */
export function formatSideBySide(processes: readonly ProfiledProcess[], top = 15): string {
  const out: string[] = [];
  const names = processes.map((p) => p.name);
  const width = 12;
  const us = (ms: number | undefined, requests: number) => (ms === undefined ? '-' : perRequest(ms, requests).toFixed(1));
  out.push('main-thread busy time per request (µs), by area (self time)');
  out.push(`  ${column('area', 58)}${names.map((n) => n.padStart(width)).join('')}`);
  out.push(`  ${column('requests through the process', 58)}${processes.map((p) => p.requests.toLocaleString('en-US').padStart(width)).join('')}`);
  out.push(`  ${column('busy, all areas', 58)}${processes.map((p) => us(p.summary.busyMs, p.requests).padStart(width)).join('')}`);
  const areas = [...new Set(processes.flatMap((p) => p.summary.areas.map((a) => a.area)))];
  const total = (area: string) => processes.reduce((sum, p) => sum + perRequest(p.summary.areas.find((a) => a.area === area)?.ms ?? 0, p.requests), 0);
  for (const area of areas.sort((a, b) => total(b) - total(a))) {
    out.push(`  ${column(area, 58)}${processes.map((p) => us(p.summary.areas.find((a) => a.area === area)?.ms, p.requests).padStart(width)).join('')}`);
  }
  const fnWidth = 46;
  out.push('', `top functions by self time (µs per request)`);
  out.push('  ' + names.map((n) => column(n, fnWidth)).join('  '));
  for (let i = 0; i < top; i++) {
    const cells = processes.map((p) => {
      const f = p.summary.functions[i];
      return column(f ? `${us(f.ms, p.requests).padStart(6)} ${f.fn} ${f.where.split('/').at(-1) ?? ''}` : '', fnWidth);
    });
    if (cells.every((c) => c.trim() === '')) break;
    out.push('  ' + cells.join('  '));
  }
  return out.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node dist/bench/profile-summary.js FILE.cpuprofile [TOP]\n');
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  process.stdout.write(formatProfileSummary(summarizeProfile(profile, Number(process.argv[3] ?? 25))) + '\n');
}
