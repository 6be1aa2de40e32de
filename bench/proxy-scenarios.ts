import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { summarizeAirflowPair, type AirflowPair } from './airflow-pairs.js';
import { startAnchor, type AnchorInputs } from './anchors.js';
import type { BenchContext } from './bench-context.js';
import { summarizeRounds, type TargetSummary } from './comparison.js';
import { residentBytes } from './cpu-usage.js';
import { mintDistinctTokens } from './distinct-tokens.js';
import { countedWrk, measure, measureRounds, measureRun } from './measure.js';
import { waitUntilReady } from './processes.js';
import { bestRuns, wrkLabel, type MeasuredRun } from './report.js';
import { dagScenario, preflight, proxyToken, upstreamLogin, type Scenario } from './scenarios.js';
import { AIRFLOW_START, REAL_AIRFLOW, round, selected, selectedAnchors, settings, STAND_IN, TOKEN_CACHE_SIZE, type AnchorId } from './settings.js';
import { writeBearerCyclingScript, writeWrkScript } from './wrk.js';

/** The proxy scenarios: against the stand-in (direct, proxied, anchors, half load, distinct tokens) and a real Airflow. */

export interface ProxyFindings {
  comparison?: Comparison;
  halfLoad?: HalfLoad;
  distinctTokens?: DistinctTokens;
  airflow?: { skipped: string } | { runs: AirflowPair[] };
}

export interface Comparison {
  shape: { threads: number; connections: number };
  rounds: number;
  durationS: number;
  summaries: TargetSummary[];
  skipped: { id: AnchorId; why: string }[];
  /** Anchors whose preflight failed (a bad token admitted, the DAG not served...): errors, not figures. */
  errors: { id: AnchorId; error: string }[];
}

export interface HalfLoad {
  peakRequestsPerSecond: number;
  probes: { connections: number; requestsPerSecond: number }[];
  connections: number;
  proxied: MeasuredRun;
  direct: MeasuredRun;
  addedP99Ms: number;
}

export interface MemorySample {
  atS: number;
  rssBytes: number | undefined;
  heapUsedBytes: number | undefined;
}

export interface DistinctTokens {
  minted: number;
  mintSeconds: number;
  durationS: number;
  run: MeasuredRun;
  distinctSent: number;
  before: MemorySample;
  samples: MemorySample[];
  after: MemorySample;
  /** RSS growth over the second half of the run, relative to the RSS at its middle. */
  secondHalfGrowth: number | undefined;
  plateau: boolean;
}

export const OURS_ID = 'proxy-comparison:ours';
export const DIRECT_ID = 'proxy-comparison:direct';

const comparisonSelected = () => selected('proxy-comparison') || (settings.scenarios?.some((s) => s.startsWith('anchor-')) ?? false);

export function proxyScenariosSelected(): boolean {
  return selected('upstream-direct') || selected('proxy') || selected('proxy-half-load') || selected('proxy-distinct-tokens') || comparisonSelected();
}

/** Scenarios upstream-direct, proxy, proxy-comparison (with the anchors), proxy-half-load and proxy-distinct-tokens. */
export async function measureProxy(ctx: BenchContext, broker: { url: string; opsUrl: string }, standInUrl: string, runs: MeasuredRun[], findings: ProxyFindings): Promise<void> {
  const brokerToken = await proxyToken(broker.url, STAND_IN.audience);
  const standInToken = await upstreamLogin(standInUrl, 'proxy', STAND_IN.password);
  const prefix = `/airflow/${STAND_IN.upstream}`;
  const direct = dagScenario('upstream-direct', 'baseline: stand-in upstream direct', standInUrl, standInToken, ['stand-in']);
  const proxied = dagScenario('proxy', 'proxy -> stand-in (one token)', broker.url + prefix, brokerToken, ['broker', 'stand-in']);
  await preflight([direct, proxied]);
  runs.push(...(await measure(ctx, [direct, proxied].filter((s) => selected(s.id as 'proxy')))));
  if (comparisonSelected()) {
    findings.comparison = await measureComparison(ctx, { brokerUrl: broker.url, brokerToken, standInUrl, standInToken, prefix }, direct, proxied, runs);
  }
  if (selected('proxy-half-load')) findings.halfLoad = await measureHalfLoad(ctx, direct, proxied, runs);
  if (selected('proxy-distinct-tokens')) findings.distinctTokens = await measureDistinctTokens(ctx, broker, proxied, brokerToken, runs);
}

/** Interleaved rounds of direct, floor, HAProxy, oauth2-proxy and ours, all in front of the same stand-in. */
async function measureComparison(ctx: BenchContext, inputs: AnchorInputs, direct: Scenario, proxied: Scenario, runs: MeasuredRun[]): Promise<Comparison> {
  const skipped: Comparison['skipped'] = [];
  const errors: Comparison['errors'] = [];
  const anchors: Scenario[] = [];
  for (const id of selectedAnchors()) {
    const outcome = await startAnchor(ctx, id, inputs);
    if ('scenario' in outcome) anchors.push(outcome.scenario);
    else if ('skipped' in outcome) skipped.push({ id, why: outcome.skipped });
    else {
      process.stderr.write(`${id}: preflight failed, not measured: ${outcome.error}\n`);
      errors.push({ id, error: outcome.error });
    }
  }
  const targets = [
    { ...direct, id: DIRECT_ID, title: 'stand-in direct' },
    ...anchors,
    { ...proxied, id: OURS_ID, title: 'our proxy' },
  ];
  const shape = settings.proxyShape;
  const measured = await measureRounds(ctx, targets, shape, settings.rounds, settings.proxyDurationS);
  runs.push(...measured);
  return { shape, rounds: settings.rounds, durationS: settings.proxyDurationS, summaries: summarizeRounds(measured), skipped, errors };
}

/**
 * wrk keeps every connection busy, so load is set by the connection count: find the count at which the proxy
 * serves about half its peak, then measure the proxy and the stand-in direct at that count.
 */
async function measureHalfLoad(ctx: BenchContext, direct: Scenario, proxied: Scenario, runs: MeasuredRun[]): Promise<HalfLoad> {
  const peakRun = bestRuns(runs).find((b) => b.scenario === 'proxy' || b.scenario === OURS_ID);
  const script = writeWrkScript(ctx.tmp, 'proxy-half-load', proxied.request);
  const wrk = (threads: number, connections: number, durationS: number) =>
    countedWrk(ctx, proxied.through, { url: proxied.url, script, threads, connections, durationS, timeoutS: settings.timeoutS });
  let peak = peakRun?.requestsPerSecond;
  if (peak === undefined) {
    const shape = settings.connections.at(-1)!;
    peak = (await wrk(shape.threads, shape.connections, settings.durationS)).requestsPerSecond;
  }
  const probes: HalfLoad['probes'] = [];
  for (const connections of [1, 2, 3, 4, 6, 8, 12, 16, 24, 32]) {
    const probe = await wrk(1, connections, 3);
    probes.push({ connections, requestsPerSecond: Math.round(probe.requestsPerSecond) });
    process.stderr.write(`half-load probe -t1 -c${connections}: ${Math.round(probe.requestsPerSecond)} req/s (peak ${Math.round(peak)})\n`);
    if (probe.requestsPerSecond >= peak / 2) break;
  }
  const connections = probes.reduce((a, b) => (Math.abs(b.requestsPerSecond - peak / 2) < Math.abs(a.requestsPerSecond - peak / 2) ? b : a)).connections;
  const shape = { threads: 1, connections };
  const proxiedRun = await measureRun(ctx, { ...proxied, id: 'proxy-half-load:proxy', title: 'proxy -> stand-in at ~half peak' }, script, shape);
  const directRun = await measureRun(
    ctx,
    { ...direct, id: 'proxy-half-load:direct', title: 'stand-in direct, same connections' },
    writeWrkScript(ctx.tmp, 'half-load-direct', direct.request),
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

/**
 * Many distinct tokens through the proxy (every one a cache miss): the broker's memory must level off. Unless
 * BENCH_DISTINCT_DURATION says otherwise, the run lasts long enough for every minted token to go through once,
 * at the verification rate of a short probe with tokens of their own (capped by BENCH_DISTINCT_MAX_DURATION).
 */
async function measureDistinctTokens(ctx: BenchContext, broker: { url: string; opsUrl: string }, proxied: Scenario, template: string, runs: MeasuredRun[]): Promise<DistinctTokens> {
  const shape = settings.connections.at(-1)!;
  const files = Array.from({ length: shape.threads }, (_, i) => join(ctx.tmp, `tokens-${i}.txt`));
  const keysDir = join(ctx.tmp, 'keys');
  process.stderr.write(`minting ${settings.distinctTokens.toLocaleString('en-US')} distinct tokens offline...\n`);
  const mintStart = performance.now();
  await mintDistinctTokens({ template, keysDir, count: settings.distinctTokens, files });
  const mintSeconds = round((performance.now() - mintStart) / 1000, 1);
  const first = readFileSync(files[0]!, 'utf8').slice(0, 4096).split('\n')[0]!;
  await preflight([{ ...proxied, request: { method: 'GET', headers: { Authorization: `Bearer ${first}` } } }]);

  let durationS = settings.distinctDurationS;
  if (durationS === undefined) {
    const probeFiles = files.map((_, i) => join(ctx.tmp, `probe-tokens-${i}.txt`));
    await mintDistinctTokens({ template, keysDir, count: 30_000, files: probeFiles });
    const probeScript = writeBearerCyclingScript(ctx.tmp, 'distinct-probe', { method: 'GET' }, probeFiles);
    const probe = await countedWrk(ctx, proxied.through, { url: proxied.url, script: probeScript, ...shape, durationS: 3, timeoutS: settings.timeoutS });
    durationS = Math.min(settings.distinctMaxDurationS, Math.max(10, Math.ceil((1.05 * settings.distinctTokens) / probe.requestsPerSecond)));
    process.stderr.write(`distinct-token probe: ${Math.round(probe.requestsPerSecond)} verifications/s, so ${durationS}s for ${settings.distinctTokens.toLocaleString('en-US')} tokens\n`);
  }

  const pid = ctx.tracked.get('broker')!.pid;
  const start = performance.now();
  const sample = async (): Promise<MemorySample> => ({ atS: round((performance.now() - start) / 1000, 1), rssBytes: residentBytes(pid), heapUsedBytes: await heapUsed(broker.opsUrl) });
  const before = await sample();
  const samples: MemorySample[] = [];
  const script = writeBearerCyclingScript(ctx.tmp, 'proxy-distinct-tokens', { method: 'GET' }, files);
  const title = `proxy -> stand-in, ${settings.distinctTokens.toLocaleString('en-US')} distinct tokens`;
  const run = await measureRun(ctx, { id: 'proxy-distinct-tokens', title, url: proxied.url, through: proxied.through }, script, shape, {
    durationS,
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
  const middle = rss.find((m) => m.atS >= durationS / 2);
  const secondHalfMax = Math.max(...rss.filter((m) => m.atS >= durationS / 2).map((m) => m.rssBytes!));
  const secondHalfGrowth = middle ? round((secondHalfMax - middle.rssBytes!) / middle.rssBytes!, 3) : undefined;
  const distinctSent = Math.min(run.result.requests, settings.distinctTokens);
  return {
    minted: settings.distinctTokens,
    mintSeconds,
    durationS,
    run,
    distinctSent,
    before,
    samples,
    after,
    secondHalfGrowth,
    // Level: under 5% growth in the second half, after far more distinct tokens than the cache holds.
    plateau: secondHalfGrowth !== undefined && secondHalfGrowth < settings.targets.rssGrowth && distinctSent >= 2 * TOKEN_CACHE_SIZE,
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
export async function measureRealAirflow(ctx: BenchContext, broker: { url: string }, port: number | undefined, runs: MeasuredRun[]): Promise<NonNullable<ProxyFindings['airflow']>> {
  const skip = (why: string) => {
    process.stderr.write(`airflow scenario skipped: ${why}\n`);
    return { skipped: why };
  };
  if (port === undefined) return skip(`${AIRFLOW_START} does not exist`);
  const url = `http://127.0.0.1:${port}`;
  process.stderr.write(`starting Airflow on ${url} (scripts/airflow/start.sh; the first start also builds its virtualenv)...\n`);
  const airflow = ctx.group.spawn('airflow', AIRFLOW_START, [], { ...process.env, AIRFLOW_PORT: String(port) }, true);
  try {
    await waitUntilReady(airflow, `${url}/api/v2/monitor/health`, 240_000);
  } catch (err) {
    await ctx.group.stop(airflow);
    return skip(`Airflow did not start: ${err instanceof Error ? err.message.split('\n').slice(0, 12).join('\n') : String(err)}`);
  }
  ctx.tracked.set('airflow', { pid: airflow.pid, tree: true });
  try {
    const direct = dagScenario('airflow:direct', 'real Airflow direct', url, await upstreamLogin(url, 'proxy', REAL_AIRFLOW.password), []);
    const proxied = dagScenario('airflow:proxy', 'proxy -> real Airflow', `${broker.url}/airflow/${REAL_AIRFLOW.upstream}`, await proxyToken(broker.url, REAL_AIRFLOW.audience), ['broker']);
    await preflight([direct, proxied]);
    const directScript = writeWrkScript(ctx.tmp, 'airflow-direct', direct.request);
    const proxiedScript = writeWrkScript(ctx.tmp, 'airflow-proxy', proxied.request);
    const pairs: AirflowPair[] = [];
    // Airflow's own throughput drifts during a run (SQLite, GC): measure in ABBA order (direct, proxied,
    // proxied, direct, ...) so a linear drift cancels, and compare the means.
    for (const shape of settings.airflowConnections) {
      const measured: MeasuredRun[] = [];
      for (let i = 0; i < settings.airflowRounds; i++) {
        const order = i % 2 === 0 ? (['direct', 'proxied'] as const) : (['proxied', 'direct'] as const);
        for (const which of order) measured.push(await measureRun(ctx, which === 'direct' ? direct : proxied, which === 'direct' ? directScript : proxiedScript, shape));
      }
      runs.push(...measured);
      pairs.push(summarizeAirflowPair(wrkLabel(shape), measured));
    }
    return { runs: pairs };
  } finally {
    ctx.tracked.delete('airflow');
    await ctx.group.stop(airflow, 15_000);
  }
}
