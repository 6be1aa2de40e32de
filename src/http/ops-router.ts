import { Router, type Response } from 'express';
import type { Services } from '../services.js';
import { readinessChecks, readinessReport, type ReadinessReport } from './readiness.js';

/**
 * What the ops endpoints read: one process's own services ({@link localOps}), or, in the primary of several
 * workers, the workers' answers (`cluster-ops.ts`).
 */
export interface OpsSource {
  readiness(): Promise<ReadinessReport>;
  /** Prometheus text exposition. */
  metrics(): Promise<string>;
  metricsContentType: string;
}

export function localOps(s: Services): OpsSource {
  const checks = readinessChecks(s);
  return {
    readiness: async () => readinessReport(checks, s.config.server.readiness),
    metrics: () => s.metrics.registry.metrics(),
    metricsContentType: s.metrics.registry.contentType,
  };
}

/** The ops listener (`server.ops`): liveness, readiness with every detail, Prometheus metrics. */
export function opsRouter(source: OpsSource): Router {
  const router = Router();
  router.get('/healthz', answerAlive);
  router.get('/readyz', async (_req, res) => {
    const report = await source.readiness();
    res.status(report.ready ? 200 : 503).set('Cache-Control', 'no-store').json(report.body);
  });
  router.get('/metrics', async (_req, res) => {
    res.type(source.metricsContentType).send(await source.metrics());
  });
  return router;
}

/**
 * The main listener's probes, for load balancers that only reach the public port: alive, and ready or not.
 * No detail (directory names, key ids, policy hash, problems) and no metrics: those are on the ops listener.
 */
export function publicProbesRouter(source: Pick<OpsSource, 'readiness'>): Router {
  const router = Router();
  router.get('/healthz', answerAlive);
  router.get('/readyz', async (_req, res) => {
    const { ready } = await source.readiness();
    res.status(ready ? 200 : 503).set('Cache-Control', 'no-store').json({ status: ready ? 'ready' : 'not_ready' });
  });
  return router;
}

function answerAlive(_req: unknown, res: Response): void {
  res.json({ status: 'ok' });
}
