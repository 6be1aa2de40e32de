import { Router } from 'express';
import type { Services } from '../services.js';

/** Liveness, readiness (directories discovered, a signing key active; the key set's health) and Prometheus metrics. */
export function opsRouter(s: Services): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', (_req, res) => {
    const directories = Object.fromEntries(s.directories.all.map((d) => [d.name, d.isReady() ? 'ready' : 'unavailable']));
    const signingKey = s.keys.signingKey()?.kid;
    const ready = signingKey !== undefined && Object.values(directories).every((v) => v === 'ready');
    if (!ready) s.directories.warmUp(() => {});
    res.status(ready ? 200 : 503).json({
      status: ready ? 'ready' : 'not_ready',
      directories,
      signing_key: signingKey ?? null,
      keys: s.keys.health(),
      policy: {
        hash: s.policies.current().hash,
        loaded_at: new Date(s.policyReloader.status.loadedAt).toISOString(),
        // A refused reload leaves the last good policy running: still ready, but visible here.
        last_reload_error: s.policyReloader.status.lastError
          ? { at: new Date(s.policyReloader.status.lastError.at).toISOString(), source: s.policyReloader.status.lastError.source, problems: s.policyReloader.status.lastError.problems }
          : null,
      },
    });
  });
  router.get('/metrics', async (_req, res) => {
    res.type(s.metrics.registry.contentType).send(await s.metrics.registry.metrics());
  });
  return router;
}
