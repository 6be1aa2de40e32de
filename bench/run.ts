import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { DEMO_ACCOUNTS, DEV_DIRECTORY_AUDIENCE } from '../scripts/dev-directory.js';
import type { ConfigInput } from '../src/config/schema.js';
import { cpuBetween, machineTicks, reapedChildrenSeconds, snapshotProcess } from './cpu-usage.js';
import { freePort, firstJsonLine, ProcessGroup, waitUntilReady, type BenchProcess } from './processes.js';
import { formatProfileSummary, summarizeProfile, type CpuProfile } from './profile-summary.js';
import { bestRuns, formatBest, formatRuns, otherLoad, wrkLabel, type MeasuredRun } from './report.js';
import { ensureWrk, runWrk, writeWrkScript, type WrkRequest } from './wrk.js';

/**
 * `npm run bench`: the dev directory, the broker and wrk as three processes on loopback; token exchange,
 * client_credentials and two baselines, each at a few wrk connection counts. bench/README.md explains the
 * knobs and how to read the output.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RESULTS_DIR = join(ROOT, 'bench', 'results');
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

const settings = {
  durationS: Number(process.env.BENCH_DURATION ?? 10),
  warmupS: Number(process.env.BENCH_WARMUP ?? 2),
  timeoutS: 5,
  connections: (process.env.BENCH_CONNECTIONS ?? '1x16,2x64').split(',').map((spec) => {
    const [t, c] = spec.split('x').map(Number);
    if (!t || !c) throw new Error(`BENCH_CONNECTIONS: "${spec}" is not THREADSxCONNECTIONS`);
    return { threads: t, connections: c };
  }),
  scenarios: process.env.BENCH_SCENARIOS?.split(',').filter(Boolean),
  cpuProfile: process.env.BENCH_CPU_PROF === '1',
  targetTokenExchangesPerSecond: Number(process.env.BENCH_TARGET ?? 3000),
};

interface Scenario {
  id: string;
  title: string;
  url: string;
  request: WrkRequest;
  /** Checked once before load: the answer wrk will count as success must really be a success. */
  check(status: number, body: string): string | undefined;
}

const account = DEMO_ACCOUNTS[0]!;
const basic = 'Basic ' + Buffer.from(`${encodeURIComponent(account.clientId)}:${encodeURIComponent(account.secret)}`).toString('base64');
const FORM = 'application/x-www-form-urlencoded';

const tmp = mkdtempSync(join(tmpdir(), 'atb-bench-'));
const group = new ProcessGroup();
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
  const tokenEndpoint = await directoryTokenEndpoint(directory.issuer);
  const broker = await startBroker(directory.issuer);
  const subjectToken = await fetchSubjectToken(tokenEndpoint);
  const scenarios = defineScenarios(broker.url, tokenEndpoint, subjectToken).filter((s) => !settings.scenarios || settings.scenarios.includes(s.id));
  if (scenarios.length === 0) throw new Error(`BENCH_SCENARIOS matches none of the scenarios`);
  await preflight(scenarios);
  const runs = await measure(scenarios, broker.process, directory.process);
  await group.stopAll();
  const profile = settings.cpuProfile ? keepProfile() : undefined;
  return report(runs, wrkVersion, profile);
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

async function startBroker(directoryIssuer: string): Promise<{ url: string; process: BenchProcess }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const unthrottled = { requests: 10_000_000, per: '1s' };
  const config: ConfigInput = {
    issuer: url,
    server: { host: '127.0.0.1', port },
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
    upstreams: { bench: { audience: 'https://airflow.bench.example' } },
    default_upstream: 'bench',
    rate_limits: { per_client: unthrottled, per_ip: unthrottled },
    revocation: { sqlite_path: './revocations.sqlite' },
    audit: { destination: join(tmp, 'audit.log') },
    logging: { level: 'warn' },
  };
  copyFileSync(join(ROOT, 'examples/policy.yaml'), join(tmp, 'policy.yaml'));
  const configFile = join(tmp, 'config.yaml');
  writeFileSync(configFile, stringify(config));
  const nodeArgs = settings.cpuProfile ? ['--cpu-prof', '--cpu-prof-dir', join(tmp, 'profile')] : [];
  const proc = group.spawn('broker', process.execPath, [...nodeArgs, join(ROOT, 'dist/src/cli/main.js'), 'serve', '--config', configFile]);
  await waitUntilReady(proc, `${url}/readyz`, 20_000);
  return { url, process: proc };
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

async function measure(scenarios: Scenario[], broker: BenchProcess, directory: BenchProcess): Promise<MeasuredRun[]> {
  const runs: MeasuredRun[] = [];
  const machineCores = cpus().length;
  for (const s of scenarios) {
    const script = writeWrkScript(tmp, s.id, s.request);
    for (const { threads, connections } of settings.connections) {
      const run = { url: s.url, script, threads, connections, timeoutS: settings.timeoutS };
      process.stderr.write(`${s.title} ${wrkLabel({ threads, connections })}: warm-up ${settings.warmupS}s, measure ${settings.durationS}s\n`);
      if (settings.warmupS > 0) await runWrk({ ...run, durationS: settings.warmupS });
      const snapshot = () => ({
        broker: snapshotProcess(broker.pid),
        directory: snapshotProcess(directory.pid),
        machine: machineTicks(),
        wrk: reapedChildrenSeconds(),
      });
      const before = snapshot();
      const result = await runWrk({ ...run, durationS: settings.durationS });
      const after = snapshot();
      runs.push({
        scenario: s.id,
        title: s.title,
        threads,
        connections,
        result,
        cores: {
          broker: cpuBetween(broker.pid, before.broker, after.broker),
          directory: cpuBetween(directory.pid, before.directory, after.directory),
          wrk: (after.wrk - before.wrk) / result.durationS,
          machineBusy: (after.machine.busy - before.machine.busy) / result.durationS,
          machineCores,
        },
      });
      if (result.errorCount > 0) process.stderr.write(`  ! ${result.errorCount} errors: ${JSON.stringify(result.errors)}\n`);
    }
  }
  return runs;
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

function report(runs: MeasuredRun[], wrkVersion: string, profile: { file: string; summary: string } | undefined): number {
  const best = bestRuns(runs);
  const find = (id: string) => best.find((b) => b.scenario === id);
  const exchange = find('token-exchange');
  const viaBroker = find('client-credentials');
  const direct = find('directory-direct');
  const healthz = find('healthz');
  const ratios = {
    client_credentials_via_broker_vs_directory: viaBroker && direct ? round(viaBroker.requestsPerSecond / direct.requestsPerSecond, 3) : undefined,
    token_exchange_vs_healthz: exchange && healthz ? round(exchange.requestsPerSecond / healthz.requestsPerSecond, 3) : undefined,
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
    settings: { ...settings, topology: 'directory, broker and wrk as three processes on 127.0.0.1' },
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
        broker_main: round(r.cores.broker.main / r.result.durationS, 3),
        broker_main_kernel: round(r.cores.broker.mainSystem / r.result.durationS, 3),
        broker_other_threads: Object.fromEntries(Object.entries(r.cores.broker.others).map(([k, v]) => [k, round(v / r.result.durationS, 3)])),
        directory_main: round(r.cores.directory.main / r.result.durationS, 3),
        directory_main_kernel: round(r.cores.directory.mainSystem / r.result.durationS, 3),
        directory_other_threads: Object.fromEntries(Object.entries(r.cores.directory.others).map(([k, v]) => [k, round(v / r.result.durationS, 3)])),
        wrk: round(r.cores.wrk, 3),
        machine_busy: round(r.cores.machineBusy, 3),
        other_processes: round(otherLoad(r), 3),
      },
    })),
    best,
    ratios,
    target,
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

function gitInfo(): { commit: string | undefined; dirty: boolean } {
  const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  const status = spawnSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8' });
  return { commit: head.status === 0 ? head.stdout.trim() : undefined, dirty: status.status === 0 && status.stdout.trim() !== '' };
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
