import { round } from './settings.js';
import type { MeasuredRun } from './report.js';

/**
 * One shape of the real-Airflow scenario: the means of its ABBA rounds (direct, proxied, proxied, direct...), and
 * where each leg's time went. Airflow's CPU per call tells the two possible gaps apart: the same per call on both
 * legs means Airflow does the same work for the proxy's call (the gap is elsewhere: the extra hop competing for the
 * cores, or Airflow waiting), more per proxied call means Airflow works more for what the proxy sends.
 */
export interface AirflowPair {
  shape: string;
  direct: number;
  proxied: number;
  ratio: number;
  /** Airflow's CPU (its whole process tree) per answered call on each leg, in ms; undefined when not sampled. */
  airflowCpuMsPerCall?: { direct: number; proxied: number };
  /** The broker's CPU per proxied call, in ms. */
  brokerCpuMsPerCall?: number;
}

const DIRECT = 'airflow:direct';
const PROXIED = 'airflow:proxy';

/** `runs`: the direct and proxied runs of one shape, in any order. */
export function summarizeAirflowPair(shape: string, runs: readonly MeasuredRun[]): AirflowPair {
  const direct = runs.filter((r) => r.scenario === DIRECT);
  const proxied = runs.filter((r) => r.scenario === PROXIED);
  const mean = (legs: readonly MeasuredRun[]) => legs.reduce((sum, r) => sum + r.result.requestsPerSecond, 0) / legs.length;
  const pair: AirflowPair = { shape, direct: round(mean(direct), 1), proxied: round(mean(proxied), 1), ratio: round(mean(proxied) / mean(direct), 3) };
  const airflow = { direct: cpuMsPerCall(direct, 'airflow'), proxied: cpuMsPerCall(proxied, 'airflow') };
  if (airflow.direct !== undefined && airflow.proxied !== undefined) pair.airflowCpuMsPerCall = { direct: airflow.direct, proxied: airflow.proxied };
  const broker = cpuMsPerCall(proxied, 'broker');
  if (broker !== undefined) pair.brokerCpuMsPerCall = broker;
  return pair;
}

/** CPU seconds of one bench process over the legs, per call answered, in ms (2 decimals). */
function cpuMsPerCall(legs: readonly MeasuredRun[], process: string): number | undefined {
  let seconds = 0;
  let calls = 0;
  for (const r of legs) {
    const share = r.cores.processes[process];
    if (!share) return undefined;
    seconds += share.total;
    calls += r.result.requests;
  }
  return calls > 0 ? round((seconds * 1000) / calls, 2) : undefined;
}
