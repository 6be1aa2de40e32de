import { errors as undiciErrors, request } from 'undici';
import type { Gauge } from 'prom-client';

/** What `/readyz` says about one deployment. */
export interface UpstreamState {
  /** `unknown` until the first probe has finished. */
  status: 'up' | 'down' | 'unknown';
  /** When the last probe finished (ISO 8601). */
  checked_at: string | null;
  /** Why the last probe failed: `timeout`, `unreachable` or `status <code>`; null when up. */
  error: string | null;
}

export interface ProbeTarget {
  /** The deployment's name (`upstreams.<name>`). */
  name: string;
  /** The health URL, e.g. `http://airflow-api:8080/api/v2/monitor/health`. */
  url: string;
}

export interface UpstreamProbeOptions {
  intervalMs: number;
  timeoutMs: number;
  gauge: Gauge<'deployment'>;
  now: () => number;
}

/**
 * Reachability of each proxied Airflow, probed on a timer (never per `/readyz` request): a GET of Airflow's
 * public health endpoint, without credentials, that must answer 200 within the timeout. Reported, never a
 * reason to be unready: Airflow down is no reason to restart the broker, and tokens can still be issued.
 */
export class UpstreamProbes {
  private readonly results = new Map<string, UpstreamState>();
  private timer: NodeJS.Timeout | undefined;
  private round: AbortController | undefined;

  constructor(
    private readonly targets: readonly ProbeTarget[],
    private readonly options: UpstreamProbeOptions,
  ) {
    for (const t of targets) this.results.set(t.name, { status: 'unknown', checked_at: null, error: null });
  }

  /** Probes now, then every interval (the next round starts when the last one has finished). */
  start(): void {
    if (this.timer || this.targets.length === 0) return;
    const loop = async () => {
      await this.probeAll();
      if (this.timer) this.timer = setTimeout(() => void loop(), this.options.intervalMs).unref();
    };
    this.timer = setTimeout(() => void loop(), 0).unref();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.round?.abort();
  }

  /** The last result of every deployment, by name. */
  states(): Record<string, UpstreamState> {
    return Object.fromEntries(this.results);
  }

  async probeAll(): Promise<void> {
    const round = (this.round = new AbortController());
    await Promise.all(
      this.targets.map(async (t) => {
        const error = await this.probe(t.url, round.signal);
        if (round.signal.aborted) return; // stopped: keep the last real result
        this.results.set(t.name, { status: error ? 'down' : 'up', checked_at: new Date(this.options.now()).toISOString(), error });
        this.options.gauge.set({ deployment: t.name }, error ? 0 : 1);
      }),
    );
  }

  /** null when healthy, else why not. */
  private async probe(url: string, stopped: AbortSignal): Promise<string | null> {
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    try {
      const res = await request(url, {
        method: 'GET',
        headers: { accept: 'application/json' },
        signal: AbortSignal.any([stopped, timeout]),
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
      });
      await res.body.dump();
      return res.statusCode === 200 ? null : `status ${res.statusCode}`;
    } catch (err) {
      const timedOut = timeout.aborted || err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError || err instanceof undiciErrors.ConnectTimeoutError;
      return timedOut ? 'timeout' : 'unreachable';
    }
  }
}
