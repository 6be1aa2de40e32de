import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { DEMO_ACCOUNTS, DEV_DIRECTORY_AUDIENCE } from '../scripts/dev-directory.js';
import type { ConfigInput } from '../src/config/schema.js';
import { cpuBetween, machineTicks, reapedChildrenSeconds, residentBytes, snapshotProcess, type CpuShare } from './cpu-usage.js';
import { mintDistinctTokens } from './distinct-tokens.js';
import { freePort, firstJsonLine, ProcessGroup, waitUntilReady, type BenchProcess } from './processes.js';
import { formatProfileSummary, summarizeProfile, type CpuProfile } from './profile-summary.js';
import { bestRuns, formatBest, formatRuns, otherLoad, wrkLabel, type MeasuredRun } from './report.js';
import { ensureWrk, runWrk, writeBearerCyclingScript, writeWrkScript, type WrkRequest, type WrkResult } from './wrk.js';

/**
 * `npm run bench`: the dev directory, the broker, a stand-in Airflow and wrk as processes on loopback (plus a
 * real Airflow for one scenario); token issuance and the proxy, each against its baseline. bench/README.md
 * explains the scenarios, the knobs and how to read the output.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RESULTS_DIR = join(ROOT, 'bench', 'results');
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const AIRFLOW_START = join(ROOT, 'scripts/airflow/start.sh');
/** The proxied call of every proxy scenario: one DAG that role etl-operator of examples/policy.yaml may read. */
const DAG_PATH = '/api/v2/dags/etl_daily';
const STAND_IN = { upstream: 'prod', audience: 'https://airflow.bench', passwordEnv: 'BENCH_AIRFLOW_PASSWORD' } as const;
const REAL_AIRFLOW = { upstream: 'real', audience: 'https://airflow.real.bench', passwordEnv: 'BENCH_REAL_AIRFLOW_PASSWORD', password: 'proxy-pass' } as const;
const TOKEN_CACHE_SIZE = 50_000;
const SCENARIO_IDS = [
  'token-exchange',
  'client-credentials',
  'healthz',
  'directory-direct',
  'upstream-direct',
  'proxy',
  'proxy-half-load',
  'proxy-distinct-tokens',
  'airflow',
] as const;
type ScenarioId = (typeof SCENARIO_IDS)[number];

interface Shape {
  threads: number;
  connections: number;
}

function shapes(spec: string, variable: string): Shape[] {
  return spec.split(',').map((item) => {
    const [t, c] = item.split('x').map(Number);
    if (!t || !c) throw new Error(`${variable}: "${item}" is not THREADSxCONNECTIONS`);
    return { threads: t, connections: c };
  });
}

const settings = {
  durationS: Number(process.env.BENCH_DURATION ?? 10),
  warmupS: Number(process.env.BENCH_WARMUP ?? 2),
  timeoutS: 5,
  connections: shapes(process.env.BENCH_CONNECTIONS ?? '1x16,2x64', 'BENCH_CONNECTIONS'),
  scenarios: process.env.BENCH_SCENARIOS?.split(',').filter(Boolean),
  cpuProfile: process.env.BENCH_CPU_PROF === '1',
  /** `server.workers` of the broker (several processes need an audit stream: the broker's stdout). */
  brokerWorkers: Number(process.env.BENCH_BROKER_WORKERS ?? 1),
  /** Rounds of the real-Airflow comparison, in ABBA order (2 = direct, proxied, proxied, direct). */
  airflowRounds: Math.max(1, Number(process.env.BENCH_AIRFLOW_ROUNDS ?? 2)),
  targetTokenExchangesPerSecond: Number(process.env.BENCH_TARGET ?? 3000),
  distinctTokens: Number(process.env.BENCH_DISTINCT_TOKENS ?? 250_000),
  distinctDurationS: Number(process.env.BENCH_DISTINCT_DURATION ?? 45),
  airflowConnections: shapes(process.env.BENCH_AIRFLOW_CONNECTIONS ?? '1x8', 'BENCH_AIRFLOW_CONNECTIONS'),
  targets: { proxyVsDirect: 0.3, addedP99Ms: 2, airflowProxyVsDirect: 0.95 },
};
for (const id of settings.scenarios ?? []) {
  if (!(SCENARIO_IDS as readonly string[]).includes(id)) throw new Error(`BENCH_SCENARIOS: unknown scenario "${id}" (known: ${SCENARIO_IDS.join(', ')})`);
}
const selected = (id: ScenarioId) => !settings.scenarios || settings.scenarios.includes(id);

interface Scenario {
  id: string;
  title: string;
  url: string;
  request: WrkRequest;
  /** Checked once before load: the answer wrk will count as success must really be a success. */
  check(status: number, body: string): string | undefined;
}

/** What the proxy scenarios found, beyond the runs in the table. */
interface ProxyFindings {
  halfLoad?: HalfLoad;
  distinctTokens?: DistinctTokens;
  airflow?: { skipped: string } | { runs: { shape: string; direct: number; proxied: number; ratio: number }[] };
}

interface HalfLoad {
  peakRequestsPerSecond: number;
  probes: { connections: number; requestsPerSecond: number }[];
  connections: number;
  proxied: MeasuredRun;
  direct: MeasuredRun;
  addedP99Ms: number;
}

interface MemorySample {
  atS: number;
  rssBytes: number | undefined;
  heapUsedBytes: number | undefined;
}

interface DistinctTokens {
  minted: number;
  mintSeconds: number;
  run: MeasuredRun;
  distinctSent: number;
  before: MemorySample;
  samples: MemorySample[];
  after: MemorySample;
  /** RSS growth over the second half of the run, relative to the RSS at its middle. */
  secondHalfGrowth: number | undefined;
  plateau: boolean;
}

const account = DEMO_ACCOUNTS[0]!;
const basic = 'Basic ' + Buffer.from(`${encodeURIComponent(account.clientId)}:${encodeURIComponent(account.secret)}`).toString('base64');
const FORM = 'application/x-www-form-urlencoded';

const tmp = mkdtempSync(join(tmpdir(), 'atb-bench-'));
const group = new ProcessGroup();
/** The bench processes whose CPU each run reports; `tree`: count the process's children too. */
const tracked = new Map<string, { pid: number; tree: boolean }>();
let exitCode = 0;

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: stopping the bench processes\n`);
    void group.stopAll(1_000).finally(() => process.exit(130));
  });
}

try {
  exitCode = await main();
} catch (err) {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  exitCode = 1;
} finally {
  await group.stopAll();
  if (process.env.BENCH_KEEP_TMP !== '1') rmSync(tmp, { recursive: true, force: true });
}
process.exit(exitCode);

async function main(): Promise<number> {
  const wrkVersion = ensureWrk();
  const directory = await startDirectory();
  tracked.set('directory', { pid: directory.process.pid, tree: false });
  const standIn = await startStandIn();
  tracked.set('stand-in', { pid: standIn.process.pid, tree: false });
  const tokenEndpoint = await directoryTokenEndpoint(directory.issuer);
  // Airflow starts only for its own scenario; the broker is configured for its port from the beginning.
  const airflowPort = selected('airflow') && existsSync(AIRFLOW_START) ? await freePort() : undefined;
  const broker = await startBroker(directory.issuer, standIn.url, airflowPort);
  tracked.set('broker', { pid: broker.process.pid, tree: settings.brokerWorkers > 1 });
  const subjectToken = await fetchSubjectToken(tokenEndpoint);
  const scenarios = defineScenarios(broker.url, tokenEndpoint, subjectToken).filter((s) => selected(s.id as ScenarioId));
  await preflight(scenarios);
  const runs = await measure(scenarios);
  const findings: ProxyFindings = {};
  if (selected('upstream-direct') || selected('proxy') || selected('proxy-half-load') || selected('proxy-distinct-tokens')) {
    await measureProxy(broker, standIn.url, runs, findings);
  }
  if (selected('airflow')) findings.airflow = await measureRealAirflow(broker, airflowPort, runs);
  await group.stopAll();
  const profile = settings.cpuProfile ? keepProfile() : undefined;
  return report(runs, findings, wrkVersion, profile);
}

async function startDirectory(): Promise<{ issuer: string; process: BenchProcess }> {
  const proc = group.spawn('directory', process.execPath, [join(ROOT, 'dist/bench/directory-process.js')]);
  const { issuer } = await firstJsonLine<{ issuer: string }>(proc, 15_000);
  return { issuer, process: proc };
}

async function directoryTokenEndpoint(issuer: string): Promise<string> {
  const res = await fetch(`${issuer}/.well-known/openid-configuration`);
  const metadata = (await res.json()) as { token_endpoint?: string };
  if (!metadata.token_endpoint) throw new Error('the dev directory publishes no token_endpoint');
  return metadata.token_endpoint;
}

async function startStandIn(): Promise<{ url: string; process: BenchProcess }> {
  const proc = group.spawn('stand-in', process.execPath, [join(ROOT, 'dist/bench/stand-in-upstream.js')]);
  const { url } = await firstJsonLine<{ url: string }>(proc, 15_000);
  return { url, process: proc };
}

async function startBroker(directoryIssuer: string, standInUrl: string, airflowPort: number | undefined): Promise<{ url: string; opsUrl: string; process: BenchProcess }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const opsPort = await freePort();
  const unthrottled = { requests: 10_000_000, per: '1s' };
  const config: ConfigInput = {
    issuer: url,
    server: { host: '127.0.0.1', port, workers: settings.brokerWorkers, ops: { port: opsPort } },
    policy_file: './policy.yaml',
    keys: { dir: './keys' },
    directories: {
      dev: {
        issuer: directoryIssuer,
        allow_insecure_http: true,
        timeout: '5s',
        client_credentials: { audience: DEV_DIRECTORY_AUDIENCE },
        token_exchange: { audiences: [DEV_DIRECTORY_AUDIENCE] },
      },
    },
    upstreams: {
      bench: { audience: 'https://airflow.bench.example' },
      [STAND_IN.upstream]: {
        audience: STAND_IN.audience,
        url: standInUrl,
        credentials: { mode: 'service-account', username: 'proxy', password: `\${${STAND_IN.passwordEnv}}` },
      },
      ...(airflowPort === undefined
        ? {}
        : {
            [REAL_AIRFLOW.upstream]: {
              audience: REAL_AIRFLOW.audience,
              url: `http://127.0.0.1:${airflowPort}`,
              credentials: { mode: 'service-account', username: 'proxy', password: `\${${REAL_AIRFLOW.passwordEnv}}` },
            },
          }),
    },
    default_upstream: 'bench',
    proxy: { token_cache_size: TOKEN_CACHE_SIZE },
    rate_limits: { per_client: unthrottled, per_ip: unthrottled },
    revocation: { sqlite_path: './revocations.sqlite' },
    audit: { destination: settings.brokerWorkers > 1 ? 'stdout' : join(tmp, 'audit.log') },
    logging: { level: 'warn' },
  };
  copyFileSync(join(ROOT, 'examples/policy.yaml'), join(tmp, 'policy.yaml'));
  const configFile = join(tmp, 'config.yaml');
  writeFileSync(configFile, stringify(config));
  const nodeArgs = settings.cpuProfile ? ['--cpu-prof', '--cpu-prof-dir', join(tmp, 'profile')] : [];
  const env = { ...process.env, [STAND_IN.passwordEnv]: 'stand-in-password', [REAL_AIRFLOW.passwordEnv]: REAL_AIRFLOW.password };
  const proc = group.spawn('broker', process.execPath, [...nodeArgs, join(ROOT, 'dist/src/cli/main.js'), 'serve', '--config', configFile], env);
  await waitUntilReady(proc, `${url}/readyz`, 20_000);
  return { url, opsUrl: `http://127.0.0.1:${opsPort}`, process: proc };
}

async function fetchSubjectToken(tokenEndpoint: string): Promise<string> {
  const res = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': FORM },
    body: new URLSearchParams({ grant_type: 'client_credentials' }),
  });
  const body = (await res.json()) as { access_token?: string };
  if (res.status !== 200 || !body.access_token) throw new Error(`the directory gave no access token: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

function defineScenarios(brokerUrl: string, directoryTokenEndpoint: string, subjectToken: string): Scenario[] {
  const issuedToken = (status: number, body: string) =>
    status === 200 && typeof (JSON.parse(body) as { access_token?: unknown }).access_token === 'string' ? undefined : `HTTP ${status}: ${body}`;
  const tokenExchangeBody = new URLSearchParams({ grant_type: TOKEN_EXCHANGE, subject_token: subjectToken, subject_token_type: ACCESS_TOKEN_TYPE });
  const clientCredentials: WrkRequest = {
    method: 'POST',
    headers: { Authorization: basic, 'Content-Type': FORM },
    body: 'grant_type=client_credentials',
  };
  return [
    {
      id: 'token-exchange',
      title: 'token exchange (warm JWKS)',
      url: `${brokerUrl}/oauth2/token`,
      request: { method: 'POST', headers: { 'Content-Type': FORM }, body: tokenExchangeBody.toString() },
      check: issuedToken,
    },
    { id: 'client-credentials', title: 'client_credentials via broker', url: `${brokerUrl}/oauth2/token`, request: clientCredentials, check: issuedToken },
    {
      id: 'healthz',
      title: 'baseline: broker GET /healthz',
      url: `${brokerUrl}/healthz`,
      request: { method: 'GET' },
      check: (status, body) => (status === 200 ? undefined : `HTTP ${status}: ${body}`),
    },
    { id: 'directory-direct', title: 'baseline: directory token endpoint', url: directoryTokenEndpoint, request: clientCredentials, check: issuedToken },
  ];
}

/** One request per scenario before load; the token exchange one also fills the broker's JWKS cache. */
async function preflight(scenarios: Scenario[]): Promise<void> {
  for (const s of scenarios) {
    const res = await fetch(s.url, { method: s.request.method, headers: s.request.headers ?? {}, body: s.request.body ?? null });
    const problem = s.check(res.status, await res.text());
    if (problem) throw new Error(`${s.title}: the first request did not succeed (${problem})`);
  }
}

async function measure(scenarios: Scenario[], shapesOf: (s: Scenario) => Shape[] = () => settings.connections): Promise<MeasuredRun[]> {
  const runs: MeasuredRun[] = [];
  for (const s of scenarios) {
    const script = writeWrkScript(tmp, s.id, s.request);
    for (const shape of shapesOf(s)) runs.push(await measureRun(s, script, shape));
  }
  return runs;
}

/** One wrk run (after a warm-up whose figures are discarded) with the CPU every bench process used during it. */
async function measureRun(
  s: { id: string; title: string; url: string },
  script: string,
  shape: Shape,
  options: { durationS?: number; warmupS?: number; during?: (run: Promise<WrkResult>) => Promise<void> } = {},
): Promise<MeasuredRun> {
  const durationS = options.durationS ?? settings.durationS;
  const warmupS = options.warmupS ?? settings.warmupS;
  const run = { url: s.url, script, threads: shape.threads, connections: shape.connections, timeoutS: settings.timeoutS };
  process.stderr.write(`${s.title} ${wrkLabel(shape)}: ${warmupS > 0 ? `warm-up ${warmupS}s, ` : ''}measure ${durationS}s\n`);
  if (warmupS > 0) await runWrk({ ...run, durationS: warmupS });
  const snapshot = () => ({
    processes: new Map([...tracked].map(([name, p]) => [name, snapshotProcess(p.pid, p.tree)])),
    machine: machineTicks(),
    wrk: reapedChildrenSeconds(),
  });
  const before = snapshot();
  const running = runWrk({ ...run, durationS });
  await options.during?.(running);
  const result = await running;
  const after = snapshot();
  const processes: Record<string, CpuShare> = {};
  for (const [name, p] of tracked) {
    const b = before.processes.get(name);
    const a = after.processes.get(name);
    if (a && b) processes[name] = cpuBetween(p.pid, b, a);
  }
  if (result.errorCount > 0) process.stderr.write(`  ! ${result.errorCount} errors: ${JSON.stringify(result.errors)}\n`);
  return {
    scenario: s.id,
    title: s.title,
    threads: shape.threads,
    connections: shape.connections,
    result,
    cores: {
      processes,
      wrk: (after.wrk - before.wrk) / result.durationS,
      machineBusy: (after.machine.busy - before.machine.busy) / result.durationS,
      machineCores: cpus().length,
    },
  };
}

/** A broker access token of demo-etl (role etl-operator) for one upstream, through the real token endpoint. */
async function proxyToken(brokerUrl: string, audience: string): Promise<string> {
  const res = await fetch(`${brokerUrl}/oauth2/token`, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': FORM },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: audience }),
  });
  const body = (await res.json()) as { access_token?: string };
  if (res.status !== 200 || !body.access_token) throw new Error(`the broker issued no token for ${audience}: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

/** An upstream token as the proxy's service account gets it: `POST /auth/token` with a JSON body, 201. */
async function upstreamLogin(upstreamUrl: string, username: string, password: string): Promise<string> {
  const res = await fetch(`${upstreamUrl}/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  const body = (await res.json()) as { access_token?: string };
  if (res.status !== 201 || !body.access_token) throw new Error(`login at ${upstreamUrl} failed: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

function dagAnswer(status: number, body: string): string | undefined {
  if (status !== 200) return `HTTP ${status}: ${body.slice(0, 300)}`;
  return (JSON.parse(body) as { dag_id?: unknown }).dag_id === 'etl_daily' ? undefined : `not the DAG: ${body.slice(0, 300)}`;
}

/** The same GET, direct to an upstream with its own token and through the proxy with a broker token. */
function dagScenarios(
  ids: [string, string],
  titles: [string, string],
  upstream: { url: string; token: string },
  proxy: { url: string; token: string },
): [Scenario, Scenario] {
  const get = (token: string): WrkRequest => ({ method: 'GET', headers: { Authorization: `Bearer ${token}` } });
  return [
    { id: ids[0], title: titles[0], url: upstream.url + DAG_PATH, request: get(upstream.token), check: dagAnswer },
    { id: ids[1], title: titles[1], url: proxy.url + DAG_PATH, request: get(proxy.token), check: dagAnswer },
  ];
}

/** Scenarios upstream-direct, proxy, proxy-half-load and proxy-distinct-tokens, against the stand-in. */
async function measureProxy(broker: { url: string; opsUrl: string }, standInUrl: string, runs: MeasuredRun[], findings: ProxyFindings): Promise<void> {
  const brokerToken = await proxyToken(broker.url, STAND_IN.audience);
  const [direct, proxied] = dagScenarios(
    ['upstream-direct', 'proxy'],
    ['baseline: stand-in upstream direct', 'proxy -> stand-in (one token)'],
    { url: standInUrl, token: await upstreamLogin(standInUrl, 'proxy', 'stand-in-password') },
    { url: `${broker.url}/airflow/${STAND_IN.upstream}`, token: brokerToken },
  );
  await preflight([direct, proxied]);
  runs.push(...(await measure([direct, proxied].filter((s) => selected(s.id as ScenarioId)))));
  if (selected('proxy-half-load')) findings.halfLoad = await measureHalfLoad(direct, proxied, runs);
  if (selected('proxy-distinct-tokens')) findings.distinctTokens = await measureDistinctTokens(broker, proxied, brokerToken, runs);
}

/**
 * wrk keeps every connection busy, so load is set by the connection count: find the count at which the proxy
 * serves about half its peak, then measure the proxy and the stand-in direct at that count.
 */
async function measureHalfLoad(direct: Scenario, proxied: Scenario, runs: MeasuredRun[]): Promise<HalfLoad> {
  const peakRun = bestRuns(runs).find((b) => b.scenario === 'proxy');
  const script = writeWrkScript(tmp, 'proxy-half-load', proxied.request);
  let peak = peakRun?.requestsPerSecond;
  if (peak === undefined) {
    const shape = settings.connections.at(-1)!;
    peak = (await runWrk({ url: proxied.url, script, ...shape, durationS: settings.durationS, timeoutS: settings.timeoutS })).requestsPerSecond;
  }
  const probes: HalfLoad['probes'] = [];
  for (const connections of [1, 2, 3, 4, 6, 8, 12, 16, 24, 32]) {
    const probe = await runWrk({ url: proxied.url, script, threads: 1, connections, durationS: 3, timeoutS: settings.timeoutS });
    probes.push({ connections, requestsPerSecond: Math.round(probe.requestsPerSecond) });
    process.stderr.write(`half-load probe -t1 -c${connections}: ${Math.round(probe.requestsPerSecond)} req/s (peak ${Math.round(peak)})\n`);
    if (probe.requestsPerSecond >= peak / 2) break;
  }
  const connections = probes.reduce((a, b) => (Math.abs(b.requestsPerSecond - peak / 2) < Math.abs(a.requestsPerSecond - peak / 2) ? b : a)).connections;
  const shape = { threads: 1, connections };
  const proxiedRun = await measureRun({ ...proxied, id: 'proxy-half-load:proxy', title: 'proxy -> stand-in at ~half peak' }, script, shape);
  const directRun = await measureRun(
    { ...direct, id: 'proxy-half-load:direct', title: 'stand-in direct, same connections' },
    writeWrkScript(tmp, 'half-load-direct', direct.request),
    shape,
  );
  runs.push(proxiedRun, directRun);
  return {
    peakRequestsPerSecond: Math.round(peak),
    probes,
    connections,
    proxied: proxiedRun,
    direct: directRun,
    addedP99Ms: round(proxiedRun.result.latencyMs.p99 - directRun.result.latencyMs.p99, 3),
  };
}

/** Many distinct tokens through the proxy (every one a cache miss): the broker's memory must level off. */
async function measureDistinctTokens(broker: { url: string; opsUrl: string }, proxied: Scenario, template: string, runs: MeasuredRun[]): Promise<DistinctTokens> {
  const shape = settings.connections.at(-1)!;
  const files = Array.from({ length: shape.threads }, (_, i) => join(tmp, `tokens-${i}.txt`));
  process.stderr.write(`minting ${settings.distinctTokens.toLocaleString('en-US')} distinct tokens offline...\n`);
  const mintStart = performance.now();
  await mintDistinctTokens({ template, keysDir: join(tmp, 'keys'), count: settings.distinctTokens, files });
  const mintSeconds = round((performance.now() - mintStart) / 1000, 1);
  const first = readFileSync(files[0]!, 'utf8').slice(0, 4096).split('\n')[0]!;
  await preflight([{ ...proxied, request: { method: 'GET', headers: { Authorization: `Bearer ${first}` } } }]);

  const pid = tracked.get('broker')!.pid;
  const start = performance.now();
  const sample = async (): Promise<MemorySample> => ({ atS: round((performance.now() - start) / 1000, 1), rssBytes: residentBytes(pid), heapUsedBytes: await heapUsed(broker.opsUrl) });
  const before = await sample();
  const samples: MemorySample[] = [];
  const script = writeBearerCyclingScript(tmp, 'proxy-distinct-tokens', { method: 'GET' }, files);
  const title = `proxy -> stand-in, ${settings.distinctTokens.toLocaleString('en-US')} distinct tokens`;
  const run = await measureRun({ id: 'proxy-distinct-tokens', title, url: proxied.url }, script, shape, {
    durationS: settings.distinctDurationS,
    warmupS: 0,
    during: async (wrk) => {
      let finished = false;
      void wrk.finally(() => (finished = true)).catch(() => undefined);
      while (!finished) {
        samples.push(await sample());
        await Promise.race([wrk, new Promise((r) => setTimeout(r, 1_000))]).catch(() => undefined);
      }
    },
  });
  runs.push(run);
  const after = await sample();
  const rss = samples.filter((m) => m.rssBytes !== undefined);
  const middle = rss.find((m) => m.atS >= settings.distinctDurationS / 2);
  const secondHalfMax = Math.max(...rss.filter((m) => m.atS >= settings.distinctDurationS / 2).map((m) => m.rssBytes!));
  const secondHalfGrowth = middle ? round((secondHalfMax - middle.rssBytes!) / middle.rssBytes!, 3) : undefined;
  const distinctSent = Math.min(run.result.requests, settings.distinctTokens);
  return {
    minted: settings.distinctTokens,
    mintSeconds,
    run,
    distinctSent,
    before,
    samples,
    after,
    secondHalfGrowth,
    // Level: under 5% growth in the second half, after far more distinct tokens than the cache holds.
    plateau: secondHalfGrowth !== undefined && secondHalfGrowth < 0.05 && distinctSent >= 2 * TOKEN_CACHE_SIZE,
  };
}

/** V8 heap in use, from the broker's own Prometheus metrics (on its ops listener). */
async function heapUsed(opsUrl: string): Promise<number | undefined> {
  try {
    const text = await (await fetch(`${opsUrl}/metrics`, { signal: AbortSignal.timeout(2_000) })).text();
    const m = /^nodejs_heap_size_used_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(text);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Scenario airflow: starts a real Airflow 3 (scripts/airflow/start.sh); skipped with a message when it cannot. */
async function measureRealAirflow(broker: { url: string }, port: number | undefined, runs: MeasuredRun[]): Promise<NonNullable<ProxyFindings['airflow']>> {
  const skip = (why: string) => {
    process.stderr.write(`airflow scenario skipped: ${why}\n`);
    return { skipped: why };
  };
  if (port === undefined) return skip(`${AIRFLOW_START} does not exist`);
  const url = `http://127.0.0.1:${port}`;
  process.stderr.write(`starting Airflow on ${url} (scripts/airflow/start.sh; the first start also builds its virtualenv)...\n`);
  const airflow = group.spawn('airflow', AIRFLOW_START, [], { ...process.env, AIRFLOW_PORT: String(port) }, true);
  try {
    await waitUntilReady(airflow, `${url}/api/v2/monitor/health`, 240_000);
  } catch (err) {
    await group.stop(airflow);
    return skip(`Airflow did not start: ${err instanceof Error ? err.message.split('\n').slice(0, 12).join('\n') : String(err)}`);
  }
  tracked.set('airflow', { pid: airflow.pid, tree: true });
  try {
    const [direct, proxied] = dagScenarios(
      ['airflow:direct', 'airflow:proxy'],
      ['real Airflow direct', 'proxy -> real Airflow'],
      { url, token: await upstreamLogin(url, 'proxy', REAL_AIRFLOW.password) },
      { url: `${broker.url}/airflow/${REAL_AIRFLOW.upstream}`, token: await proxyToken(broker.url, REAL_AIRFLOW.audience) },
    );
    await preflight([direct, proxied]);
    const directScript = writeWrkScript(tmp, 'airflow-direct', direct.request);
    const proxiedScript = writeWrkScript(tmp, 'airflow-proxy', proxied.request);
    const pairs: { shape: string; direct: number; proxied: number; ratio: number }[] = [];
    // Airflow's own throughput drifts during a run (SQLite, GC): measure in ABBA order (direct, proxied,
    // proxied, direct, ...) so a linear drift cancels, and compare the means.
    for (const shape of settings.airflowConnections) {
      const sums = { direct: 0, proxied: 0 };
      for (let i = 0; i < settings.airflowRounds; i++) {
        const order = i % 2 === 0 ? (['direct', 'proxied'] as const) : (['proxied', 'direct'] as const);
        for (const which of order) {
          const run = await measureRun(which === 'direct' ? direct : proxied, which === 'direct' ? directScript : proxiedScript, shape);
          runs.push(run);
          sums[which] += run.result.requestsPerSecond;
        }
      }
      const n = settings.airflowRounds;
      pairs.push({ shape: wrkLabel(shape), direct: round(sums.direct / n, 1), proxied: round(sums.proxied / n, 1), ratio: round(sums.proxied / sums.direct, 3) });
    }
    return { runs: pairs };
  } finally {
    tracked.delete('airflow');
    await group.stop(airflow, 15_000);
  }
}

/** Copies the broker's CPU profile (written when it exits) next to the results. */
function keepProfile(): { file: string; summary: string } | undefined {
  const dir = join(tmp, 'profile');
  const found = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!found) {
    process.stderr.write('no CPU profile was written by the broker\n');
    return undefined;
  }
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, 'broker.cpuprofile');
  copyFileSync(join(dir, found), file);
  const summary = formatProfileSummary(summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile));
  return { file, summary };
}

function report(runs: MeasuredRun[], findings: ProxyFindings, wrkVersion: string, profile: { file: string; summary: string } | undefined): number {
  const best = bestRuns(runs);
  const find = (id: string) => best.find((b) => b.scenario === id);
  const exchange = find('token-exchange');
  const viaBroker = find('client-credentials');
  const direct = find('directory-direct');
  const healthz = find('healthz');
  const proxied = find('proxy');
  const upstreamDirect = find('upstream-direct');
  const airflowPairs = findings.airflow && 'runs' in findings.airflow ? findings.airflow.runs : undefined;
  const airflowBest = airflowPairs?.length ? airflowPairs.reduce((a, b) => (b.proxied > a.proxied ? b : a)) : undefined;
  const ratios = {
    client_credentials_via_broker_vs_directory: viaBroker && direct ? round(viaBroker.requestsPerSecond / direct.requestsPerSecond, 3) : undefined,
    token_exchange_vs_healthz: exchange && healthz ? round(exchange.requestsPerSecond / healthz.requestsPerSecond, 3) : undefined,
    proxy_vs_upstream_direct: proxied && upstreamDirect ? round(proxied.requestsPerSecond / upstreamDirect.requestsPerSecond, 3) : undefined,
    proxy_vs_upstream_direct_by_shape: Object.fromEntries(
      runs
        .filter((r) => r.scenario === 'proxy')
        .flatMap((p) => {
          const d = runs.find((r) => r.scenario === 'upstream-direct' && r.threads === p.threads && r.connections === p.connections);
          return d ? [[wrkLabel(p), round(p.result.requestsPerSecond / d.result.requestsPerSecond, 3)]] : [];
        }),
    ),
    airflow_proxy_vs_direct: airflowBest?.ratio,
  };
  const half = findings.halfLoad;
  const memory = findings.distinctTokens;
  const proxyTargets = {
    proxy_vs_direct: ratios.proxy_vs_upstream_direct === undefined ? undefined : { threshold: settings.targets.proxyVsDirect, measured: ratios.proxy_vs_upstream_direct, met: ratios.proxy_vs_upstream_direct >= settings.targets.proxyVsDirect },
    added_p99_ms_at_half_load: half ? { threshold: settings.targets.addedP99Ms, measured: half.addedP99Ms, met: half.addedP99Ms <= settings.targets.addedP99Ms } : undefined,
    memory_bounded: memory ? { measured_second_half_growth: memory.secondHalfGrowth, met: memory.plateau } : undefined,
    airflow_proxy_vs_direct: airflowBest ? { threshold: settings.targets.airflowProxyVsDirect, measured: airflowBest.ratio, met: airflowBest.ratio >= settings.targets.airflowProxyVsDirect } : undefined,
  };
  const runsWithErrors = runs.filter((r) => r.result.errorCount > 0);
  const target = {
    description: `token exchanges/s >= ${settings.targetTokenExchangesPerSecond}`,
    threshold: settings.targetTokenExchangesPerSecond,
    measured: exchange?.requestsPerSecond,
    met: exchange !== undefined && exchange.errors === 0 && exchange.requestsPerSecond >= settings.targetTokenExchangesPerSecond,
  };

  const out: string[] = ['', formatRuns(runs), '', formatBest(best), ''];
  if (ratios.client_credentials_via_broker_vs_directory !== undefined) {
    out.push(`client_credentials via broker / directory direct: ${ratios.client_credentials_via_broker_vs_directory.toFixed(3)}`);
  }
  if (ratios.token_exchange_vs_healthz !== undefined) out.push(`token exchange / healthz: ${ratios.token_exchange_vs_healthz.toFixed(3)}`);
  out.push(...formatProxyFindings(runs, findings, ratios, proxyTargets));
  if (exchange) {
    out.push(`target ${target.description}: ${target.met ? 'MET' : 'NOT MET'} (${exchange.requestsPerSecond.toLocaleString('en-US')}/s at ${exchange.wrk})`);
  }
  const noisy = runs.filter((r) => otherLoad(r) > 0.15);
  if (noisy.length) {
    out.push(`NOTE: other processes used > 0.15 cores during ${noisy.length} run(s) ("others" column): figures are lowered by a busy machine`);
  }
  if (runsWithErrors.length) out.push(`WARNING: ${runsWithErrors.length} run(s) had errors; their figures are not valid (marked "!")`);
  if (profile) out.push('', `broker CPU profile: ${profile.file}`, profile.summary);

  const machine = cpus();
  const json = {
    generated_at: new Date().toISOString(),
    machine: { cpus: machine.length, cpu_model: machine[0]?.model, node: process.version, wrk: wrkVersion },
    git: gitInfo(),
    settings: { ...settings, topology: 'directory, broker, stand-in upstream, wrk (and Airflow for its scenario) as processes on 127.0.0.1' },
    runs: runs.map((r) => ({
      scenario: r.scenario,
      title: r.title,
      wrk: wrkLabel(r),
      requests: r.result.requests,
      duration_s: round(r.result.durationS, 3),
      requests_per_second: round(r.result.requestsPerSecond, 1),
      latency_ms: r.result.latencyMs,
      errors: r.result.errors,
      error_count: r.result.errorCount,
      cpu_cores: {
        ...Object.fromEntries(
          Object.entries(r.cores.processes).flatMap(([name, share]) => {
            const key = name.replace(/-/g, '_');
            return [
              [`${key}_main`, round(share.main / r.result.durationS, 3)],
              [`${key}_main_kernel`, round(share.mainSystem / r.result.durationS, 3)],
              [`${key}_other_threads`, Object.fromEntries(Object.entries(share.others).map(([k, v]) => [k, round(v / r.result.durationS, 3)]))],
            ];
          }),
        ),
        wrk: round(r.cores.wrk, 3),
        machine_busy: round(r.cores.machineBusy, 3),
        other_processes: round(otherLoad(r), 3),
      },
    })),
    best,
    ratios,
    target,
    proxy_targets: proxyTargets,
    half_load: half && {
      peak_requests_per_second: half.peakRequestsPerSecond,
      probes: half.probes,
      wrk: wrkLabel(half.proxied),
      proxied: { requests_per_second: round(half.proxied.result.requestsPerSecond, 1), latency_ms: half.proxied.result.latencyMs },
      direct: { requests_per_second: round(half.direct.result.requestsPerSecond, 1), latency_ms: half.direct.result.latencyMs },
      added_p99_ms: half.addedP99Ms,
    },
    distinct_tokens: memory && {
      minted: memory.minted,
      mint_seconds: memory.mintSeconds,
      token_cache_size: TOKEN_CACHE_SIZE,
      wrk: wrkLabel(memory.run),
      requests: memory.run.result.requests,
      distinct_tokens_sent: memory.distinctSent,
      requests_per_second: round(memory.run.result.requestsPerSecond, 1),
      before: memory.before,
      samples: memory.samples,
      after: memory.after,
      second_half_rss_growth: memory.secondHalfGrowth,
      plateau: memory.plateau,
    },
    airflow: findings.airflow,
    runs_with_errors: runsWithErrors.length,
    load_average_at_end: loadavg(),
    profile: profile?.file,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const jsonFile = join(RESULTS_DIR, 'latest.json');
  writeFileSync(jsonFile, JSON.stringify(json, null, 2) + '\n');
  out.push('', `results: ${jsonFile}`, '');
  process.stdout.write(out.join('\n'));
  return runsWithErrors.length ? 1 : 0;
}

function mb(bytes: number | undefined): string {
  return bytes === undefined ? '?' : `${(bytes / 2 ** 20).toFixed(0)} MB`;
}

function formatProxyFindings(
  runs: MeasuredRun[],
  findings: ProxyFindings,
  ratios: { proxy_vs_upstream_direct?: number | undefined; proxy_vs_upstream_direct_by_shape: Record<string, number> },
  targets: { proxy_vs_direct?: { met: boolean } | undefined; added_p99_ms_at_half_load?: { met: boolean } | undefined; airflow_proxy_vs_direct?: { met: boolean } | undefined },
): string[] {
  const out: string[] = [];
  const verdict = (t: { met: boolean } | undefined) => (t?.met ? 'MET' : 'NOT MET');
  if (ratios.proxy_vs_upstream_direct !== undefined) {
    const byShape = Object.entries(ratios.proxy_vs_upstream_direct_by_shape).map(([shape, r]) => `${shape}: ${r.toFixed(3)}`).join(', ');
    out.push(
      `proxy / stand-in direct (best runs): ${ratios.proxy_vs_upstream_direct.toFixed(3)}x; by wrk shape: ${byShape}` +
        ` -- target >= ${settings.targets.proxyVsDirect}x: ${verdict(targets.proxy_vs_direct)}`,
    );
    const best = runs.filter((r) => r.scenario === 'proxy').reduce((a, b) => (b.result.requestsPerSecond > a.result.requestsPerSecond ? b : a));
    const cpu = Object.entries(best.cores.processes).map(([name, share]) => `${name} ${(share.total / best.result.durationS).toFixed(2)}`).join(', ');
    out.push(`  CPU cores during the best proxy run (${wrkLabel(best)}): ${cpu}, wrk ${best.cores.wrk.toFixed(2)} of ${best.cores.machineCores}`);
  }
  const half = findings.halfLoad;
  if (half) {
    const p = half.proxied.result;
    const d = half.direct.result;
    out.push(
      `half load: -t1 -c${half.connections}, proxy ${Math.round(p.requestsPerSecond)} req/s (${((100 * p.requestsPerSecond) / half.peakRequestsPerSecond).toFixed(0)}% of its ${half.peakRequestsPerSecond} peak);` +
        ` p50/p90/p99 proxy ${p.latencyMs.p50}/${p.latencyMs.p90}/${p.latencyMs.p99} ms, direct ${d.latencyMs.p50}/${d.latencyMs.p90}/${d.latencyMs.p99} ms;` +
        ` added p99 ${half.addedP99Ms.toFixed(3)} ms -- target <= ${settings.targets.addedP99Ms} ms: ${verdict(targets.added_p99_ms_at_half_load)}`,
    );
  }
  const memory = findings.distinctTokens;
  if (memory) {
    const rss = memory.samples.filter((m) => m.rssBytes !== undefined);
    const at = (fraction: number) => rss.find((m) => m.atS >= fraction * settings.distinctDurationS) ?? rss.at(-1);
    const points = [0.25, 0.5, 0.75].map((f) => `${at(f)?.atS ?? '?'}s ${mb(at(f)?.rssBytes)}`).join(', ');
    out.push(
      `distinct tokens: ${memory.minted.toLocaleString('en-US')} minted offline in ${memory.mintSeconds}s; ${memory.run.result.requests.toLocaleString('en-US')} requests` +
        ` (${memory.distinctSent.toLocaleString('en-US')} distinct tokens, token cache ${TOKEN_CACHE_SIZE.toLocaleString('en-US')}) at ${Math.round(memory.run.result.requestsPerSecond)} req/s`,
      `  broker RSS: before ${mb(memory.before.rssBytes)}; ${points}; after ${mb(memory.after.rssBytes)}; max ${mb(Math.max(...rss.map((m) => m.rssBytes!)))};` +
        ` heap used before ${mb(memory.before.heapUsedBytes)}, after ${mb(memory.after.heapUsedBytes)}`,
      `  RSS growth over the second half: ${memory.secondHalfGrowth === undefined ? '?' : `${(100 * memory.secondHalfGrowth).toFixed(1)}%`} -- bounded: ${memory.plateau ? 'MET (plateau)' : 'NOT MET'}`,
    );
  }
  const airflow = findings.airflow;
  if (airflow && 'skipped' in airflow) out.push(`real Airflow: skipped (${airflow.skipped.split('\n')[0]})`);
  else if (airflow) {
    for (const pair of airflow.runs) out.push(`real Airflow ${pair.shape}: direct ${pair.direct} req/s, proxied ${pair.proxied} req/s, ratio ${pair.ratio.toFixed(3)}`);
    out.push(`  target proxied/direct >= ${settings.targets.airflowProxyVsDirect}: ${verdict(targets.airflow_proxy_vs_direct)}`);
  }
  return out;
}

function gitInfo(): { commit: string | undefined; dirty: boolean } {
  const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  const status = spawnSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8' });
  return { commit: head.status === 0 ? head.stdout.trim() : undefined, dirty: status.status === 0 && status.stdout.trim() !== '' };
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
