import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { summarizeAirflowPair, type AirflowPair } from './airflow-pairs.js';
import { startAnchor, type AnchorInputs } from './anchors.js';
import type { BenchContext } from './bench-context.js';
import { halfLoadConnections, halfLoadRefusal, secondHalfGrowth, secondHalfPeakGrowth, secondHalfSpread, summarizeRounds, type TargetSummary } from './comparison.js';
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

export interface HalfLoadAttempt {
  probes: { connections: number; requestsPerSecond: number }[];
  /** Stand-in direct at the full-load shape before the probes and after each one: the machine's gauge. */
  gauges: number[];
  connections: number;
  proxied: TargetSummary;
  direct: TargetSummary;
  /** Why this attempt's figures are not reported (the direct figures moved too much), or undefined. */
  refused: string | undefined;
}

export interface HalfLoad {
  peakRequestsPerSecond: number;
  attempts: HalfLoadAttempt[];
  /** The first attempt that was not refused; none when every attempt was. */
  accepted: HalfLoadAttempt | undefined;
  /** Median p99 proxied minus median p99 direct of the accepted attempt. */
  addedP99Ms: number | undefined;
}

/** The broker's memory at one moment: RSS from /proc, the rest from its own Prometheus metrics (V8's view). */
export interface MemorySample {
  atS: number;
  rssBytes: number | undefined;
  /** V8 heap committed (all spaces), of which `heapUsedBytes` holds objects. */
  heapTotalBytes: number | undefined;
  heapUsedBytes: number | undefined;
  /** Memory outside the V8 heap that V8 knows of (array buffers, buffers). RSS minus the heap and this is native: malloc, code, stacks. */
  externalBytes: number | undefined;
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
  /** RSS growth over the second half of the run, relative to the RSS sampled at its middle (phase-sensitive). */
  secondHalfGrowth: number | undefined;
  /** The highest RSS of the last quarter over the highest of the third (`secondHalfPeakGrowth`): a rising trend. */
  secondHalfPeakGrowth: number | undefined;
  /** Highest over lowest RSS of the second half, minus 1 (`secondHalfSpread`): the verdict's figure. */
  secondHalfSpread: number | undefined;
  plateau: boolean;
}

export const OURS_ID = 'proxy-comparison:ours';
const DISTINCT_TOKEN_LIFETIME_S = 50 * 60;
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
 * serves about half its peak, then measure the proxy and the stand-in direct at that count in interleaved
 * rounds. The stand-in direct gauges the machine: at the full-load shape before the probes and after each, and
 * at the chosen count in every round. When either moves more than BENCH_HALF_LOAD_MAX_SWING (2x), the attempt is
 * refused (the report says why) and made again, up to BENCH_HALF_LOAD_ATTEMPTS times.
 */
async function measureHalfLoad(ctx: BenchContext, direct: Scenario, proxied: Scenario, runs: MeasuredRun[]): Promise<HalfLoad> {
  const peakRun = bestRuns(runs).find((b) => b.scenario === 'proxy' || b.scenario === OURS_ID);
  const proxiedScript = writeWrkScript(ctx.tmp, 'proxy-half-load', proxied.request);
  const directScript = writeWrkScript(ctx.tmp, 'half-load-direct', direct.request);
  const wrk = (target: Scenario, script: string, shape: { threads: number; connections: number }, durationS: number) =>
    countedWrk(ctx, target.through, { url: target.url, script, ...shape, durationS, timeoutS: settings.timeoutS });
  let peak = peakRun?.requestsPerSecond;
  if (peak === undefined) {
    const shape = settings.connections.at(-1)!;
    peak = (await wrk(proxied, proxiedScript, shape, settings.durationS)).requestsPerSecond;
  }
  const gauge = async () => Math.round((await wrk(direct, directScript, settings.proxyShape, 2)).requestsPerSecond);
  const attempts: HalfLoadAttempt[] = [];
  for (let attempt = 1; attempt <= settings.halfLoad.attempts; attempt++) {
    const probes: HalfLoadAttempt['probes'] = [];
    const gauges = [await gauge()];
    for (const connections of [1, 2, 3, 4, 6, 8, 12, 16, 24, 32]) {
      const probe = await wrk(proxied, proxiedScript, { threads: 1, connections }, 3);
      probes.push({ connections, requestsPerSecond: Math.round(probe.requestsPerSecond) });
      gauges.push(await gauge());
      process.stderr.write(`half-load probe -t1 -c${connections}: ${Math.round(probe.requestsPerSecond)} req/s (peak ${Math.round(peak)}); direct gauge ${gauges.at(-1)} req/s\n`);
      if (probe.requestsPerSecond >= peak / 2) break;
    }
    const connections = halfLoadConnections(probes, peak);
    const targets = [
      { ...proxied, id: 'proxy-half-load:proxy', title: 'proxy -> stand-in at ~half peak' },
      { ...direct, id: 'proxy-half-load:direct', title: 'stand-in direct, same connections' },
    ];
    const measured = await measureRounds(ctx, targets, { threads: 1, connections }, settings.rounds, settings.proxyDurationS);
    runs.push(...measured);
    const [proxiedSummary, directSummary] = summarizeRounds(measured);
    const refused = halfLoadRefusal(
      [
        { label: `stand-in direct at ${wrkLabel(settings.proxyShape)} between the probes`, requestsPerSecond: gauges },
        { label: `stand-in direct at -t1 -c${connections} over the rounds`, requestsPerSecond: measured.filter((r) => r.scenario === 'proxy-half-load:direct').map((r) => r.result.requestsPerSecond) },
      ],
      settings.halfLoad.maxSwing,
    );
    attempts.push({ probes, gauges, connections, proxied: proxiedSummary!, direct: directSummary!, refused });
    if (!refused) break;
    process.stderr.write(`half load, attempt ${attempt}: refused, not reported: ${refused}\n`);
  }
  const accepted = attempts.find((a) => !a.refused);
  return { peakRequestsPerSecond: Math.round(peak), attempts, accepted, addedP99Ms: accepted && round(accepted.proxied.p99Ms - accepted.direct.p99Ms, 3) };
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
  // 50 minutes: longer than minting a million tokens and the longest run, within the broker's default max_ttl (1 h).
  await mintDistinctTokens({ template, keysDir, count: settings.distinctTokens, files, lifetimeS: DISTINCT_TOKEN_LIFETIME_S });
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
  const sample = async (): Promise<MemorySample> => ({ atS: round((performance.now() - start) / 1000, 1), rssBytes: residentBytes(pid), ...(await heapFigures(broker.opsUrl)) });
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
  const growth = secondHalfGrowth(samples, durationS);
  const peakGrowth = secondHalfPeakGrowth(samples, durationS);
  const spread = secondHalfSpread(samples, durationS);
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
    secondHalfGrowth: growth === undefined ? undefined : round(growth, 3),
    secondHalfPeakGrowth: peakGrowth === undefined ? undefined : round(peakGrowth, 3),
    secondHalfSpread: spread === undefined ? undefined : round(spread, 3),
    // Flat: RSS within 5% over the whole second half, after far more distinct tokens than the cache holds.
    plateau: spread !== undefined && spread < settings.targets.rssGrowth && distinctSent >= 2 * TOKEN_CACHE_SIZE,
  };
}

/** The V8 heap and external memory, from the broker's own Prometheus metrics (on its ops listener). */
async function heapFigures(opsUrl: string): Promise<Pick<MemorySample, 'heapTotalBytes' | 'heapUsedBytes' | 'externalBytes'>> {
  let text = '';
  try {
    text = await (await fetch(`${opsUrl}/metrics`, { signal: AbortSignal.timeout(2_000) })).text();
  } catch {
    // No figures this time: the sample keeps its RSS.
  }
  const metric = (name: string) => {
    const m = new RegExp(`^${name} (\\d+(?:\\.\\d+)?(?:e\\+\\d+)?)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  return { heapTotalBytes: metric('nodejs_heap_size_total_bytes'), heapUsedBytes: metric('nodejs_heap_size_used_bytes'), externalBytes: metric('nodejs_external_memory_bytes') };
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
