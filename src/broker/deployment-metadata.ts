import type { Config } from '../config/schema.js';
import { defaultUpstream } from './target.js';

/** One proxied Airflow deployment as the broker's metadata describes it to clients. */
export interface DeploymentMetadata {
  /** The audience to ask for (RFC 8707 `resource`) to call this deployment. */
  resource: string;
  /** The deployment's root at the proxy, e.g. `https://broker.example/airflow/prod` (the API is under `/api/v2`). */
  url: string;
  /** The REST API served there: `v2` (Airflow 3) or `v1` (Airflow 2). */
  api: 'v1' | 'v2';
}

/**
 * Metadata extensions (RFC 8414 allows them) that let a client find a deployment by name: `airflow_deployments`
 * (the proxied ones, those with a `url`) and `default_airflow_deployment` (the one a token request naming none is
 * for). Names and audiences are no secret: they are in every proxy path and token; Airflow's own URLs stay out.
 */
export function deploymentMetadata(config: Config): { airflow_deployments: Record<string, DeploymentMetadata>; default_airflow_deployment?: string } {
  const base = config.issuer.replace(/\/$/, '') + config.proxy.path_prefix;
  const proxied = Object.entries(config.upstreams).filter(([, u]) => u.url !== undefined);
  const deployments = Object.fromEntries(proxied.map(([name, u]) => [name, { resource: u.audience, url: `${base}/${name}`, api: u.api }]));
  const fallback = defaultUpstream(config);
  return { airflow_deployments: deployments, ...(fallback !== undefined && fallback in deployments && { default_airflow_deployment: fallback }) };
}
