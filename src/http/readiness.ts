import type { Config } from '../config/schema.js';
import type { Services } from '../services.js';

/**
 * What an instance does, each ready or not on its own: `issuance` answers the token endpoint (it needs the
 * directories and a signing key), `proxy` verifies broker tokens and forwards calls (it needs only our keys).
 */
export type BrokerFunction = 'issuance' | 'proxy';

/** Which functions must be ready for the instance to be (`server.readiness`). */
export type ReadinessRule = Config['server']['readiness'];

/**
 * One line of `/readyz`. Add a check to {@link readinessChecks} to report something new:
 *
 * ```ts
 * { name: 'revocation_store', gates: ['proxy'], run: () => ({ ok: store.connected, detail: store.connected ? 'ok' : 'unavailable' }) }
 * ```
 */
export interface ReadinessCheck {
  /** The key of its detail in the `/readyz` body. */
  name: string;
  /** The functions that are not ready while this check fails; none: reported only. */
  gates: readonly BrokerFunction[];
  /** Reads state kept up to date elsewhere: no I/O, since load balancers call `/readyz` every few seconds. */
  run(): { ok: boolean; detail: unknown };
}

type ReadyState = 'ready' | 'not_ready';

export interface ReadinessReport {
  ready: boolean;
  /** `status` (`ready`/`not_ready`), `functions` (each function's state) and one detail per check. */
  body: { status: ReadyState } & Record<string, unknown>;
}

/** Runs every check; the instance is ready when the functions `rule` names are (`any`: at least one of them). */
export function readinessReport(checks: readonly ReadinessCheck[], rule: ReadinessRule): ReadinessReport {
  const up: Record<BrokerFunction, boolean> = { issuance: true, proxy: true };
  const details: Record<string, unknown> = {};
  for (const check of checks) {
    const { ok, detail } = check.run();
    if (!ok) for (const f of check.gates) up[f] = false;
    details[check.name] = detail;
  }
  const ready = rule === 'any' ? up.issuance || up.proxy : rule === 'all' ? up.issuance && up.proxy : up[rule];
  const state = (ok: boolean): ReadyState => (ok ? 'ready' : 'not_ready');
  return { ready, body: { status: state(ready), functions: { issuance: state(up.issuance), proxy: state(up.proxy) }, ...details } };
}

/**
 * What this broker process reports. Nothing is ready once shutdown has begun (`draining`). Issuance is ready when every directory has been discovered and a key signs;
 * the proxy when a published key that has signed verifies broker tokens (it never asks a directory). The policy's reload status
 * and each deployment's reachability are shown but gate nothing (a refused reload keeps the last good policy
 * running; restarting the broker would not bring Airflow back).
 */
export function readinessChecks(s: Pick<Services, 'directories' | 'keys' | 'policies' | 'policyReloader' | 'upstreamProbes' | 'drain'>): ReadinessCheck[] {
  return [
    {
      // From SIGTERM on: out of the load balancer at once, while in-flight requests finish.
      name: 'draining',
      gates: ['issuance', 'proxy'],
      run: () => ({ ok: !s.drain.started, detail: s.drain.started }),
    },
    {
      name: 'directories',
      gates: ['issuance'],
      run() {
        const ok = s.directories.all.every((d) => d.isReady());
        if (!ok) s.directories.warmUp(() => {}); // retried here; failures are logged by the request that needs it
        return { ok, detail: Object.fromEntries(s.directories.all.map((d) => [d.name, d.isReady() ? 'ready' : 'unavailable'])) };
      },
    },
    {
      name: 'signing_key',
      gates: ['issuance'],
      run() {
        const kid = s.keys.signingKey()?.kid;
        return { ok: kid !== undefined, detail: kid ?? null };
      },
    },
    {
      // Published keys that have signed: a retired one still verifies its tokens, a pending one has signed none yet.
      name: 'verification_keys',
      gates: ['proxy'],
      run() {
        const verifying = s.keys.status().filter((k) => k.published && k.state !== 'pending').length;
        return { ok: verifying > 0, detail: verifying };
      },
    },
    {
      // The key set's own state: `degraded` while the last good keys serve through a broken file or a keys/ outage.
      name: 'keys',
      gates: [],
      run() {
        const health = s.keys.health();
        return { ok: health.state === 'ok', detail: health };
      },
    },
    {
      name: 'policy',
      gates: [],
      run() {
        const { loadedAt, lastError } = s.policyReloader.status;
        return {
          ok: lastError === undefined,
          detail: {
            hash: s.policies.current().hash,
            loaded_at: new Date(loadedAt).toISOString(),
            last_reload_error: lastError ? { at: new Date(lastError.at).toISOString(), source: lastError.source, problems: lastError.problems } : null,
          },
        };
      },
    },
    {
      name: 'upstreams',
      gates: [],
      run() {
        const states = s.upstreamProbes.states();
        return { ok: Object.values(states).every((u) => u.status === 'up'), detail: states };
      },
    },
  ];
}
