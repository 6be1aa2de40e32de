import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const PROXY_DECISIONS = ['allow', 'deny', 'filtered'] as const;
export type ProxyDecision = (typeof PROXY_DECISIONS)[number];

/** The service's Prometheus metrics, on one registry per app instance (tests build several). */
export class Metrics {
  readonly registry = new Registry();

  readonly tokenRequests = new Counter({
    name: 'atb_token_requests_total',
    help: 'Token endpoint requests by grant type and outcome (issued, or the OAuth error code).',
    labelNames: ['grant_type', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly directoryDuration = new Histogram({
    name: 'atb_directory_request_duration_seconds',
    help: 'Calls to the central directory by operation and outcome.',
    labelNames: ['directory', 'operation', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly rateLimited = new Counter({
    name: 'atb_rate_limited_total',
    help: 'Requests refused by a rate limit, by limit.',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });

  readonly policyReloads = new Counter({
    name: 'atb_policy_reloads_total',
    help: 'Policy reload attempts by outcome (reloaded, unchanged, refused).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly policyLastReloadOk = new Gauge({
    name: 'atb_policy_last_reload_ok',
    help: '1 when the last policy reload succeeded (or none failed), 0 while a refused file is waiting to be fixed.',
    // Several workers: 0 as soon as one of them runs on a refused file.
    aggregator: 'min',
    registers: [this.registry],
  });

  /** Counted since the counter was last read: prom-client hashes the labels on every `inc`, a map lookup is cheaper. */
  private readonly pendingDecisions = new Map<string, Record<ProxyDecision, number>>();

  readonly proxyDecisions = new Counter({
    name: 'atb_proxy_decisions_total',
    help: 'Proxied calls by deployment and decision (allow, deny, filtered).',
    labelNames: ['deployment', 'decision'] as const,
    registers: [this.registry],
    // Called by prom-client whenever the counter is read (a scrape, or the primary collecting from its workers).
    collect: () => {
      for (const [deployment, counts] of this.pendingDecisions) {
        for (const decision of PROXY_DECISIONS) if (counts[decision] > 0) this.proxyDecisions.inc({ deployment, decision }, counts[decision]);
      }
      this.pendingDecisions.clear();
    },
  });

  /** One proxied call's decision, once per request (`atb_proxy_decisions_total`). */
  countProxyDecision(deployment: string, decision: ProxyDecision): void {
    let counts = this.pendingDecisions.get(deployment);
    if (!counts) this.pendingDecisions.set(deployment, (counts = { allow: 0, deny: 0, filtered: 0 }));
    counts[decision]++;
  }

  readonly upstreamUp = new Gauge({
    name: 'atb_upstream_up',
    help: '1 while the deployment answers its health probe (GET <url>/api/v2/monitor/health), 0 while it does not.',
    labelNames: ['deployment'] as const,
    aggregator: 'min',
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
