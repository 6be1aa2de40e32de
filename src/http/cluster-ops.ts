import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { OpsSource } from './ops-router.js';
import type { ReadinessReport } from './readiness.js';

const ASK = 'atb:readiness?';
const ANSWER = 'atb:readiness!';

interface Question {
  type: typeof ASK;
  id: number;
}
interface Answer {
  type: typeof ANSWER;
  id: number;
  report: ReadinessReport;
}

/** In a worker of several: answer the primary's readiness questions and hand it this worker's metrics. */
export function answerPrimary(local: OpsSource, registry: Registry): void {
  AggregatorRegistry.setRegistries([registry]);
  new AggregatorRegistry(); // registers prom-client's own answer to the primary's metrics requests
  process.on('message', (message: Partial<Question>) => {
    if (message?.type !== ASK || typeof message.id !== 'number') return;
    const id = message.id;
    void local.readiness().then((report) => process.send?.({ type: ANSWER, id, report } satisfies Answer));
  });
}

/**
 * The primary's ops source when several workers serve the port: metrics summed over the workers (prom-client's
 * cluster aggregation; gauges such as `atb_upstream_up` take the minimum), readiness of every worker by pid.
 * Ready when at least one worker runs and every running worker says it is ready within `timeoutMs`, and not
 * `stopping` (the primary's SIGTERM: not ready at once, `draining: true`, whatever the workers say yet).
 */
export function clusterOps(options: { stopping?: () => boolean; timeoutMs?: number } = {}): OpsSource {
  const { stopping = () => false, timeoutMs = 2_000 } = options;
  const aggregator = new AggregatorRegistry();
  let nextId = 0;
  return {
    metrics: () => aggregator.clusterMetrics(),
    metricsContentType: aggregator.contentType,
    async readiness() {
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
      // Draining: answered at once, without asking workers that are finishing their requests.
      const draining = stopping();
      const reports = draining ? workers.map(() => DRAINING) : await Promise.all(workers.map((w) => ask(w, nextId++, timeoutMs)));
      const ready = !draining && workers.length > 0 && reports.every((r) => r?.ready === true);
      const byPid = Object.fromEntries(workers.map((w, i) => [String(w.process.pid), reports[i]?.body ?? { status: 'no_answer' }]));
      return { ready, body: { status: ready ? 'ready' : 'not_ready', draining, workers: byPid } };
    },
  };
}

const DRAINING: ReadinessReport = { ready: false, body: { status: 'not_ready', draining: true } };

function ask(worker: Worker, id: number, timeoutMs: number): Promise<ReadinessReport | undefined> {
  return new Promise((resolve) => {
    const done = (report: ReadinessReport | undefined) => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      resolve(report);
    };
    const onMessage = (message: Partial<Answer>) => {
      if (message?.type === ANSWER && message.id === id) done(message.report);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    worker.on('message', onMessage);
    worker.send({ type: ASK, id } satisfies Question, (err) => err && done(undefined));
  });
}
