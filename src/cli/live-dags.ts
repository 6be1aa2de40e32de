import { loadConfig } from '../config/load-config.js';
import { KeyStore } from '../keys/key-store.js';
import { Policy } from '../policy/policy.js';
import type { LiveDags } from '../policy/policy-lint.js';
import { buildDeployments } from '../proxy/deployments.js';
import { permittedDagIds } from '../proxy/list-filter.js';

/** In `trusted-jwks` mode the check calls Airflow as a viewer: listing DAGs needs no more. */
const viewerPolicy = Policy.fromDocument({ version: 1, roles: { 'policy-check': { admin: false, airflow_role: 'viewer', allow: [], deny: [] } }, bindings: [] }, '');

const checker = 'airflow-token-broker policy check';

/** Every DAG id of one configured upstream, read the way the proxy reads lists (its URL and credentials). */
export async function fetchLiveDags(configFile: string, upstream: string): Promise<LiveDags> {
  const { config, paths } = loadConfig(configFile);
  const up = Object.hasOwn(config.upstreams, upstream) ? config.upstreams[upstream] : undefined;
  if (!up) throw new Error(`--airflow: no upstream "${upstream}" in ${configFile}`);
  if (!up.url) throw new Error(`--airflow: upstream "${upstream}" has no url`);
  const airflowKeys = new KeyStore({ dir: paths.airflowKeysDir, algorithm: config.keys.algorithm, maxTokenTtlMs: config.tokens.max_ttl });
  if (up.credentials?.mode === 'trusted-jwks') await airflowKeys.load();
  const deployments = buildDeployments({ ...config, upstreams: { [upstream]: up } }, airflowKeys, Date.now);
  const deployment = deployments.get(upstream)!;
  try {
    const authorization = await deployment.credentials.authorization({ subject: checker, clientId: 'airflow-token-broker', roles: ['policy-check'], policy: viewerPolicy, claims: { sub: checker, client_id: 'airflow-token-broker' } });
    const dagIds = await permittedDagIds({ client: deployment.client, apiRoot: deployment.api.root, authorization, scanLimit: up.list_scan_limit }, () => true);
    return { upstream, dagIds };
  } catch (err) {
    throw new Error(`--airflow: could not list the DAGs of upstream "${upstream}": ${(err as Error).message}`, { cause: err });
  } finally {
    await deployment.client.close();
  }
}
