import { summarizeAirflowPair } from '../../bench/airflow-pairs.js';
import type { MeasuredRun } from '../../bench/report.js';

/** The real-Airflow scenario's arithmetic: ABBA means, and where each leg's time went (Airflow's CPU per call). */

function run(scenario: string, rps: number, airflowSeconds: number, brokerSeconds?: number): MeasuredRun {
  const share = (total: number) => ({ main: total, mainSystem: 0, others: {}, total });
  return {
    scenario,
    title: scenario,
    threads: 1,
    connections: 8,
    result: {
      requests: rps * 10,
      durationS: 10,
      requestsPerSecond: rps,
      latencyMs: { mean: 1, p50: 1, p90: 1, p99: 1, max: 1 },
      errors: { connect: 0, read: 0, write: 0, status: 0, timeout: 0 },
      errorCount: 0,
    },
    cores: { processes: { airflow: share(airflowSeconds), ...(brokerSeconds === undefined ? {} : { broker: share(brokerSeconds) }) }, wrk: 0, machineBusy: 0, machineCores: 2 },
  };
}

describe('bench real-Airflow pairs', () => {
  it('airflow-pair-means-over-abba-rounds', () => {
    const pair = summarizeAirflowPair('-t1 -c8', [run('airflow:direct', 120, 9), run('airflow:proxy', 100, 8, 1.2), run('airflow:proxy', 110, 8.8, 1.3), run('airflow:direct', 100, 8)]);
    expect(pair.shape).toBe('-t1 -c8');
    expect(pair.direct).toBe(110);
    expect(pair.proxied).toBe(105);
    expect(pair.ratio).toBe(0.955);
  });

  it('airflow-cpu-per-call-on-each-leg', () => {
    // direct: 17 s of Airflow CPU over 2,200 calls; proxied: 16.8 s over 2,100 calls; the broker 2.5 s over 2,100.
    const pair = summarizeAirflowPair('-t1 -c8', [run('airflow:direct', 120, 9), run('airflow:proxy', 100, 8, 1.2), run('airflow:proxy', 110, 8.8, 1.3), run('airflow:direct', 100, 8)]);
    expect(pair.airflowCpuMsPerCall).toEqual({ direct: 7.73, proxied: 8 });
    expect(pair.brokerCpuMsPerCall).toBe(1.19);
  });

  it('airflow-cpu-unknown-when-not-sampled', () => {
    const bare = (scenario: string, rps: number): MeasuredRun => ({ ...run(scenario, rps, 0), cores: { processes: {}, wrk: 0, machineBusy: 0, machineCores: 2 } });
    const pair = summarizeAirflowPair('-t1 -c8', [bare('airflow:direct', 100), bare('airflow:proxy', 90)]);
    expect(pair.airflowCpuMsPerCall).toBeUndefined();
    expect(pair.brokerCpuMsPerCall).toBeUndefined();
    expect(pair.ratio).toBe(0.9);
  });
});
