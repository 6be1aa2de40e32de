import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The bench's knobs (environment variables, bench/README.md lists them), fixed names and paths. */

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const RESULTS_DIR = join(ROOT, 'bench', 'results');
export const AIRFLOW_START = join(ROOT, 'scripts/airflow/start.sh');
/** The proxied call of every proxy scenario: one DAG that role etl-operator of examples/policy.yaml may read. */
export const DAG_PATH = '/api/v2/dags/etl_daily';
export const STAND_IN = { upstream: 'prod', audience: 'https://airflow.bench', passwordEnv: 'BENCH_AIRFLOW_PASSWORD', password: 'stand-in-password' } as const;
export const REAL_AIRFLOW = { upstream: 'real', audience: 'https://airflow.real.bench', passwordEnv: 'BENCH_REAL_AIRFLOW_PASSWORD', password: 'proxy-pass' } as const;
export const TOKEN_CACHE_SIZE = 50_000;

export const SCENARIO_IDS = [
  'token-exchange',
  'client-credentials',
  'healthz',
  'directory-direct',
  'upstream-direct',
  'proxy',
  'proxy-half-load',
  'proxy-distinct-tokens',
  'proxy-comparison',
  'anchor-floor',
  'anchor-haproxy',
  'anchor-oauth2-proxy',
  'airflow',
] as const;
export type ScenarioId = (typeof SCENARIO_IDS)[number];
/** The anchors of the proxy comparison; naming none of them in BENCH_SCENARIOS selects all three. */
export const ANCHOR_IDS = ['anchor-floor', 'anchor-haproxy', 'anchor-oauth2-proxy'] as const;
export type AnchorId = (typeof ANCHOR_IDS)[number];

export interface Shape {
  threads: number;
  connections: number;
}

export function shapes(spec: string, variable: string): Shape[] {
  return spec.split(',').map((item) => {
    const [t, c] = item.split('x').map(Number);
    if (!t || !c) throw new Error(`${variable}: "${item}" is not THREADSxCONNECTIONS`);
    return { threads: t, connections: c };
  });
}

const optionalNumber = (value: string | undefined) => (value === undefined || value === '' ? undefined : Number(value));

export const settings = {
  durationS: Number(process.env.BENCH_DURATION ?? 10),
  warmupS: Number(process.env.BENCH_WARMUP ?? 2),
  timeoutS: 5,
  connections: shapes(process.env.BENCH_CONNECTIONS ?? '1x16,2x64', 'BENCH_CONNECTIONS'),
  scenarios: process.env.BENCH_SCENARIOS?.split(',').filter(Boolean),
  cpuProfile: process.env.BENCH_CPU_PROF === '1',
  /** `server.workers` of the broker (several processes need an audit stream: the broker's stdout). */
  brokerWorkers: Number(process.env.BENCH_BROKER_WORKERS ?? 1),
  /** Node flags of the broker alone (`--trace-gc`, `--max-semi-space-size=16`...), split on spaces. */
  brokerNodeArgs: (process.env.BENCH_BROKER_NODE_ARGS ?? '').split(' ').filter(Boolean),
  /** Rounds of the real-Airflow comparison, in ABBA order (2 = direct, proxied, proxied, direct). */
  airflowRounds: Math.max(1, Number(process.env.BENCH_AIRFLOW_ROUNDS ?? 2)),
  targetTokenExchangesPerSecond: Number(process.env.BENCH_TARGET ?? 3000),
  distinctTokens: Number(process.env.BENCH_DISTINCT_TOKENS ?? 1_000_000),
  /** Unset: long enough for every distinct token to go through once at the measured verification rate (capped). */
  distinctDurationS: optionalNumber(process.env.BENCH_DISTINCT_DURATION),
  distinctMaxDurationS: Number(process.env.BENCH_DISTINCT_MAX_DURATION ?? 600),
  airflowConnections: shapes(process.env.BENCH_AIRFLOW_CONNECTIONS ?? '1x8', 'BENCH_AIRFLOW_CONNECTIONS'),
  /** The proxy comparison: interleaved rounds of direct, floor, HAProxy, oauth2-proxy, ours. */
  rounds: Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3)),
  proxyShape: shapes(process.env.BENCH_PROXY_CONNECTIONS ?? '1x32', 'BENCH_PROXY_CONNECTIONS')[0]!,
  proxyDurationS: Number(process.env.BENCH_PROXY_DURATION ?? 8),
  /** The half-load measurement: refused when the stand-in direct moves more than `maxSwing` times; tried again. */
  halfLoad: {
    maxSwing: Number(process.env.BENCH_HALF_LOAD_MAX_SWING ?? 2),
    attempts: Math.max(1, Number(process.env.BENCH_HALF_LOAD_ATTEMPTS ?? 3)),
  },
  targets: {
    proxyVsDirect: 0.3,
    addedP99Ms: 2,
    airflowProxyVsDirect: 0.97,
    oursVsFloor: 0.8,
    oursVsHaproxy: 1.8,
    p99VsFloor: 1.5,
    rssGrowth: 0.05,
  },
};

for (const id of settings.scenarios ?? []) {
  if (!(SCENARIO_IDS as readonly string[]).includes(id)) throw new Error(`BENCH_SCENARIOS: unknown scenario "${id}" (known: ${SCENARIO_IDS.join(', ')})`);
}

export const selected = (id: ScenarioId): boolean => !settings.scenarios || settings.scenarios.includes(id);

/** Anchors of the comparison: those named in BENCH_SCENARIOS, or all when none is named. */
export function selectedAnchors(): AnchorId[] {
  const named = ANCHOR_IDS.filter((a) => settings.scenarios?.includes(a));
  return named.length ? named : [...ANCHOR_IDS];
}

export function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
