import type { Services } from '../services.js';

/**
 * One line of `/readyz`. Add a check to {@link readinessChecks} to report something new:
 *
 * ```ts
 * { name: 'revocation_store', gates: true, run: () => ({ ok: store.connected, detail: store.connected ? 'ok' : 'unavailable' }) }
 * ```
 */
export interface ReadinessCheck {
  /** The key of its detail in the `/readyz` body. */
  name: string;
  /** True: the instance is unready while this check fails. False: reported only. */
  gates: boolean;
  /** Reads state kept up to date elsewhere: no I/O, since load balancers call `/readyz` every few seconds. */
  run(): { ok: boolean; detail: unknown };
}

export interface ReadinessReport {
  ready: boolean;
  /** `status` (`ready`/`not_ready`) and one detail per check. */
  body: { status: 'ready' | 'not_ready' } & Record<string, unknown>;
}

export function readinessReport(checks: readonly ReadinessCheck[]): ReadinessReport {
  let ready = true;
  const details: Record<string, unknown> = {};
  for (const check of checks) {
    const { ok, detail } = check.run();
    if (check.gates && !ok) ready = false;
    details[check.name] = detail;
  }
  return { ready, body: { status: ready ? 'ready' : 'not_ready', ...details } };
}

/**
 * What this broker process reports: ready when every directory has been discovered and a key signs. The policy's
 * reload status and each deployment's reachability are shown but never make it unready (a refused reload keeps the
 * last good policy running; restarting the broker would not bring Airflow back, and tokens can still be issued).
 */
export function readinessChecks(s: Pick<Services, 'directories' | 'keys' | 'policies' | 'policyReloader' | 'upstreamProbes'>): ReadinessCheck[] {
  return [
    {
      name: 'directories',
      gates: true,
      run() {
        const ok = s.directories.all.every((d) => d.isReady());
        if (!ok) s.directories.warmUp(() => {}); // retried here; failures are logged by the request that needs it
        return { ok, detail: Object.fromEntries(s.directories.all.map((d) => [d.name, d.isReady() ? 'ready' : 'unavailable'])) };
      },
    },
    {
      name: 'signing_key',
      gates: true,
      run() {
        const kid = s.keys.signingKey()?.kid;
        return { ok: kid !== undefined, detail: kid ?? null };
      },
    },
    {
      // The key set's own state: `degraded` while the last good keys serve through a broken file or a keys/ outage.
      name: 'keys',
      gates: false,
      run() {
        const health = s.keys.health();
        return { ok: health.state === 'ok', detail: health };
      },
    },
    {
      name: 'policy',
      gates: false,
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
      gates: false,
      run() {
        const states = s.upstreamProbes.states();
        return { ok: Object.values(states).every((u) => u.status === 'up'), detail: states };
      },
    },
  ];
}
