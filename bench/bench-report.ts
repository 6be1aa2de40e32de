import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { comparisonRatios, formatComparison, formatVerdict, verdict, type Verdict } from './comparison.js';
import type { KeptProfiles } from './profiles.js';
import { DIRECT_ID, OURS_ID, type Comparison, type DistinctTokens, type HalfLoad, type MemorySample, type ProxyFindings } from './proxy-scenarios.js';
import { bestRuns, formatBest, formatRuns, otherLoad, wrkLabel, type MeasuredRun } from './report.js';
import { RESULTS_DIR, ROOT, round, settings, TOKEN_CACHE_SIZE } from './settings.js';

/** The bench's output: the tables and target lines on stdout, every figure in bench/results/latest.json. */

export function writeReport(runs: MeasuredRun[], findings: ProxyFindings, wrkVersion: string, profiles: KeptProfiles | undefined): number {
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
    added_p99_ms_at_half_load: half ? { threshold: settings.targets.addedP99Ms, measured: half.addedP99Ms, met: half.addedP99Ms !== undefined && half.addedP99Ms <= settings.targets.addedP99Ms } : undefined,
    memory_bounded: memory ? { measured_second_half_spread: memory.secondHalfSpread, peak_growth: memory.secondHalfPeakGrowth, middle_sample_growth: memory.secondHalfGrowth, met: memory.plateau } : undefined,
    airflow_proxy_vs_direct: airflowBest ? { threshold: settings.targets.airflowProxyVsDirect, measured: airflowBest.ratio, met: airflowBest.ratio >= settings.targets.airflowProxyVsDirect } : undefined,
  };
  const comparison = findings.comparison && comparisonFindings(findings.comparison, findings);
  const runsWithErrors = runs.filter((r) => r.result.errorCount > 0);
  const anchorErrors = findings.comparison?.errors ?? [];
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
  if (findings.comparison && comparison) out.push('', ...formatComparisonFindings(findings.comparison, comparison));
  if (exchange) {
    out.push(`target ${target.description}: ${target.met ? 'MET' : 'NOT MET'} (${exchange.requestsPerSecond.toLocaleString('en-US')}/s at ${exchange.wrk})`);
  }
  const noisy = runs.filter((r) => otherLoad(r) > 0.15);
  if (noisy.length) {
    out.push(`NOTE: other processes used > 0.15 cores during ${noisy.length} run(s) ("others" column): figures are lowered by a busy machine`);
  }
  if (runsWithErrors.length) out.push(`WARNING: ${runsWithErrors.length} run(s) had errors; their figures are not valid (marked "!")`);
  if (anchorErrors.length) out.push(`ERROR: ${anchorErrors.length} anchor(s) failed their preflight and were not measured: ${anchorErrors.map((e) => e.error).join('; ')}`);
  if (profiles) out.push('', 'CPU profiles (BENCH_CPU_PROF=1)', profiles.text);

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
      max_swing: settings.halfLoad.maxSwing,
      attempts: half.attempts,
      added_p99_ms: half.addedP99Ms,
    },
    distinct_tokens: memory && {
      minted: memory.minted,
      duration_s: memory.durationS,
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
      second_half_rss_peak_growth: memory.secondHalfPeakGrowth,
      second_half_rss_spread: memory.secondHalfSpread,
      plateau: memory.plateau,
    },
    airflow: findings.airflow,
    comparison: findings.comparison && { ...findings.comparison, ...comparison },
    runs_with_errors: runsWithErrors.length,
    load_average_at_end: loadavg(),
    profiles: profiles?.files,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const jsonFile = join(RESULTS_DIR, 'latest.json');
  writeFileSync(jsonFile, JSON.stringify(json, null, 2) + '\n');
  out.push('', `results: ${jsonFile}`, '');
  process.stdout.write(out.join('\n'));
  return runsWithErrors.length || anchorErrors.length ? 1 : 0;
}

const pct = (fraction: number | undefined) => (fraction === undefined ? '?' : `${(100 * fraction).toFixed(1)}%`);

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
  const metOrNot = (t: { met: boolean } | undefined) => (t?.met ? 'MET' : 'NOT MET');
  if (ratios.proxy_vs_upstream_direct !== undefined) {
    const byShape = Object.entries(ratios.proxy_vs_upstream_direct_by_shape).map(([shape, r]) => `${shape}: ${r.toFixed(3)}`).join(', ');
    out.push(
      `proxy / stand-in direct (best runs): ${ratios.proxy_vs_upstream_direct.toFixed(3)}x; by wrk shape: ${byShape}` +
        ` -- target >= ${settings.targets.proxyVsDirect}x: ${metOrNot(targets.proxy_vs_direct)}`,
    );
    const best = runs.filter((r) => r.scenario === 'proxy').reduce((a, b) => (b.result.requestsPerSecond > a.result.requestsPerSecond ? b : a));
    const cpu = Object.entries(best.cores.processes).map(([name, share]) => `${name} ${(share.total / best.result.durationS).toFixed(2)}`).join(', ');
    out.push(`  CPU cores during the best proxy run (${wrkLabel(best)}): ${cpu}, wrk ${best.cores.wrk.toFixed(2)} of ${best.cores.machineCores}`);
  }
  const half = findings.halfLoad;
  if (half) out.push(...formatHalfLoad(half, metOrNot(targets.added_p99_ms_at_half_load)));
  const memory = findings.distinctTokens;
  if (memory) {
    const rss = memory.samples.filter((m) => m.rssBytes !== undefined);
    const at = (fraction: number) => rss.find((m) => m.atS >= fraction * memory.durationS) ?? rss.at(-1);
    const points = [0.25, 0.5, 0.75].map((f) => `${at(f)?.atS ?? '?'}s ${mb(at(f)?.rssBytes)}`).join(', ');
    out.push(
      `distinct tokens: ${memory.minted.toLocaleString('en-US')} minted offline in ${memory.mintSeconds}s; ${memory.run.result.requests.toLocaleString('en-US')} requests` +
        ` (${memory.distinctSent.toLocaleString('en-US')} distinct tokens, token cache ${TOKEN_CACHE_SIZE.toLocaleString('en-US')}) at ${Math.round(memory.run.result.requestsPerSecond)} req/s`,
      `  broker RSS: before ${mb(memory.before.rssBytes)}; ${points}; after ${mb(memory.after.rssBytes)}; max ${mb(Math.max(...rss.map((m) => m.rssBytes!)))};` +
        ` heap used before ${mb(memory.before.heapUsedBytes)}, after ${mb(memory.after.heapUsedBytes)}`,
      `  at the middle and the end: ${[middleOf(memory), memory.samples.at(-1)].map((m) => (m ? memorySplit(m) : '?')).join('; ')}`,
      `  RSS over the second half: highest over lowest +${pct(memory.secondHalfSpread)}; peak of the last quarter over peak of the third ${pct(memory.secondHalfPeakGrowth)}` +
        ` (a rising trend); highest after the middle over the middle sample ${pct(memory.secondHalfGrowth)}`,
      `  target < ${100 * settings.targets.rssGrowth}% (highest over lowest in the second half) after >= ${(2 * TOKEN_CACHE_SIZE).toLocaleString('en-US')} distinct tokens: ${memory.plateau ? 'MET (plateau)' : 'NOT MET'}`,
      ...(memory.distinctSent < memory.minted ? [`  NOTE: only ${memory.distinctSent.toLocaleString('en-US')} of the ${memory.minted.toLocaleString('en-US')} minted tokens went through in ${memory.durationS}s`] : []),
    );
  }
  const airflow = findings.airflow;
  if (airflow && 'skipped' in airflow) out.push(`real Airflow: skipped (${airflow.skipped.split('\n')[0]})`);
  else if (airflow) {
    for (const pair of airflow.runs) {
      out.push(`real Airflow ${pair.shape}: direct ${pair.direct} req/s, proxied ${pair.proxied} req/s, ratio ${pair.ratio.toFixed(3)}`);
      // Same Airflow CPU per call on both legs: Airflow does the same work for the proxy's call, the gap is elsewhere.
      const cpu = pair.airflowCpuMsPerCall;
      if (cpu) out.push(`  Airflow CPU per call: direct ${cpu.direct} ms, proxied ${cpu.proxied} ms; broker ${pair.brokerCpuMsPerCall ?? '?'} ms per proxied call`);
    }
    out.push(`  target proxied/direct >= ${settings.targets.airflowProxyVsDirect}: ${metOrNot(targets.airflow_proxy_vs_direct)}`);
  }
  return out;
}

/** One attempt per line (refused ones say why), then the accepted one's figures against the target. */
function formatHalfLoad(half: HalfLoad, met: string): string[] {
  const out = [`half load (peak ${half.peakRequestsPerSecond} req/s; refused when the stand-in direct moves more than ${settings.halfLoad.maxSwing}x):`];
  half.attempts.forEach((a, i) => {
    const p = a.proxied;
    const d = a.direct;
    out.push(
      `  attempt ${i + 1}: -t1 -c${a.connections}, proxy ${Math.round(p.requestsPerSecond)} req/s (${((100 * p.requestsPerSecond) / half.peakRequestsPerSecond).toFixed(0)}% of peak), ` +
        `p50/p99 proxy ${p.p50Ms}/${p.p99Ms} ms, direct ${d.p50Ms}/${d.p99Ms} ms (medians of ${p.rounds}); direct gauge ${a.gauges.join(', ')} req/s` +
        (a.refused ? ` -- REFUSED: ${a.refused}` : ''),
    );
  });
  const a = half.accepted;
  out.push(
    a
      ? `  added p99 ${half.addedP99Ms!.toFixed(3)} ms (p99 proxy/direct ${(a.proxied.p99Ms / a.direct.p99Ms).toFixed(2)}x) -- target <= ${settings.targets.addedP99Ms} ms: ${met}`
      : `  added p99: not reported, every attempt was refused -- target <= ${settings.targets.addedP99Ms} ms: NOT MET (not measured)`,
  );
  return out;
}

const middleOf = (memory: DistinctTokens) => memory.samples.find((m) => m.atS >= memory.durationS / 2);

/** RSS split into the V8 heap (committed / used), external memory and the native rest. */
function memorySplit(m: MemorySample): string {
  const rest = m.rssBytes !== undefined && m.heapTotalBytes !== undefined && m.externalBytes !== undefined ? m.rssBytes - m.heapTotalBytes - m.externalBytes : undefined;
  return `${m.atS}s RSS ${mb(m.rssBytes)} = heap ${mb(m.heapTotalBytes)} (used ${mb(m.heapUsedBytes)}) + external ${mb(m.externalBytes)} + native rest ${mb(rest)}`;
}

function gitInfo(): { commit: string | undefined; dirty: boolean } {
  const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  const status = spawnSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8' });
  return { commit: head.status === 0 ? head.stdout.trim() : undefined, dirty: status.status === 0 && status.stdout.trim() !== '' };
}


interface ComparisonFindings {
  ratios: { throughput: Record<string, number>; p99: Record<string, number> } | undefined;
  targets: Verdict[];
}

/** Ratios of ours to each target of the comparison, and the targets. */
function comparisonFindings(c: Comparison, findings: ProxyFindings): ComparisonFindings {
  const ratios = comparisonRatios(c.summaries, OURS_ID);
  const half = findings.halfLoad;
  const memory = findings.distinctTokens;
  const airflow = findings.airflow && 'runs' in findings.airflow && findings.airflow.runs.length ? findings.airflow.runs : undefined;
  const t = settings.targets;
  const targets = [
    verdict('ours / floor req/s', ratios?.throughput['anchor-floor'], '>=', t.oursVsFloor),
    verdict('ours / HAProxy req/s', ratios?.throughput['anchor-haproxy'], '>=', t.oursVsHaproxy),
    verdict('p99 ours / p99 floor', ratios?.p99['anchor-floor'], '<=', t.p99VsFloor),
    verdict('added p99 at half load over direct, ms', half?.addedP99Ms, '<=', t.addedP99Ms),
    verdict('RSS growth over the second half of the distinct-token run', rssVerdictValue(memory, t.rssGrowth), '<=', t.rssGrowth),
    verdict('real Airflow proxied / direct (ABBA)', airflow ? Math.max(...airflow.map((p) => p.ratio)) : undefined, '>=', t.airflowProxyVsDirect),
  ];
  return { ratios, targets };
}

const RATIO_NAMES: Record<string, string> = {
  'anchor-floor': 'floor',
  'anchor-haproxy': 'HAProxy',
  'anchor-oauth2-proxy': 'oauth2-proxy',
  [DIRECT_ID]: 'direct',
};

function formatComparisonFindings(c: Comparison, f: ComparisonFindings): string[] {
  const out = [`proxy comparison: ${c.rounds} interleaved round(s) of ${c.durationS}s at ${wrkLabel(c.shape)}, medians (p99 range over the rounds)`, formatComparison(c.summaries)];
  for (const s of c.skipped) out.push(`  ${s.id} skipped: ${s.why}`);
  for (const e of c.errors) out.push(`  ${e.id} ERROR (preflight failed, not measured): ${e.error}`);
  if (c.summaries.some((s) => s.id === 'anchor-oauth2-proxy')) {
    out.push('  oauth2-proxy authenticates only (no per-path policy) and passes the caller\'s token on: it is in front of a second stand-in that answers any bearer token (BENCH_STAND_IN_OPEN=1), same body');
  }
  if (f.ratios) {
    const order = ['anchor-floor', 'anchor-haproxy', 'anchor-oauth2-proxy', DIRECT_ID].filter((id) => id in f.ratios!.throughput);
    out.push('ratios: ' + order.map((id) => `ours/${RATIO_NAMES[id]} ${f.ratios!.throughput[id]!.toFixed(3)}x (p99 ${f.ratios!.p99[id]!.toFixed(2)}x)`).join(', '));
  }
  out.push('targets of issue #13:', ...f.targets.map((v) => `  ${formatVerdict(v)}`));
  return out;
}

/**
 * The growth to judge: the measured one when it decides (a plateau, or growth past the target), infinite when the
 * run was too short to count (fewer than twice the token cache's size of distinct tokens) however little it grew.
 */
function rssVerdictValue(memory: { plateau: boolean; secondHalfSpread?: number | undefined } | undefined, target: number): number | undefined {
  if (memory === undefined) return undefined;
  const growth = memory.secondHalfSpread;
  return memory.plateau || (growth !== undefined && growth >= target) ? growth : Infinity;
}
