import type { Config, UpstreamConfig } from '../config/schema.js';
import { AirflowClient } from '../airflow/airflow-client.js';
import { credentialsForUpstream } from '../airflow/credentials/credentials-for-upstream.js';
import type { UpstreamCredentials } from '../airflow/credentials/upstream-credentials.js';
import type { KeyStore } from '../keys/key-store.js';
import { apiVersions, type ApiVersion } from '../airflow/api-versions.js';
import { CorsPolicy } from '../http/cors-policy.js';
import type { IdLookups } from './resolve-checks.js';

/** One proxied Airflow deployment: its pool, its credential mode and its token audience. */
export interface Deployment {
  name: string;
  api: ApiVersion;
  audience: string;
  config: UpstreamConfig;
  client: AirflowClient;
  credentials: UpstreamCredentials;
  maxBodyBytes: number;
  /** Browser apps' access (`upstreams.<name>.cors`); undefined: no CORS. */
  cors: CorsPolicy | undefined;
  /** Aborted when the broker shuts down (the server's `Drain`): the relay then ends this deployment's long polls. */
  longPollsEnd?: AbortSignal;
}

const SIZE = /^(\d+)(b|kb|mb)?$/i;
function bytes(size: string): number {
  const m = SIZE.exec(size.trim());
  if (!m) throw new Error(`not a size: ${size}`);
  return Number(m[1]) * ({ b: 1, kb: 1024, mb: 1024 * 1024 }[(m[2] ?? 'b').toLowerCase()] ?? 1);
}

/**
 * The deployments the proxy fronts: every upstream that has a `url`. With `longPollsEnd` (the server's `Drain`),
 * their long polls end when it is aborted.
 */
export function buildDeployments(config: Config, airflowKeys: KeyStore, now: () => number, longPollsEnd?: AbortSignal): Map<string, Deployment> {
  const deployments = new Map<string, Deployment>();
  for (const [name, up] of Object.entries(config.upstreams)) {
    if (!up.url || !up.credentials) continue;
    const options = { url: up.url, connectTimeoutMs: up.timeouts.connect, headersTimeoutMs: up.timeouts.headers, bodyTimeoutMs: up.timeouts.body };
    const client = new AirflowClient(options);
    const credentials = credentialsForUpstream(up.api, up.credentials, { client, airflowKeys, brokerIssuer: config.issuer, now });
    deployments.set(name, { name, api: apiVersions[up.api], audience: up.audience, config: up, client, credentials, maxBodyBytes: bytes(up.max_request_body), cors: up.cors && new CorsPolicy(up.cors, up.cors.allowed_methods), longPollsEnd });
  }
  return deployments;
}

/** Lookups made with the same upstream credentials as the call they serve. */
export function idLookups(deployment: Deployment, authorization: () => Promise<string>, signal?: () => AbortSignal): IdLookups {
  return {
    async backfillDag(backfillId) {
      if (!/^\d{1,18}$/.test(backfillId)) return undefined;
      const res = await deployment.client.json('GET', `${deployment.api.root}/backfills/${backfillId}`, await authorization(), undefined, signal?.());
      const dagId = (res.body as { dag_id?: unknown } | undefined)?.dag_id;
      return res.status === 200 && typeof dagId === 'string' ? dagId : undefined;
    },
  };
}
