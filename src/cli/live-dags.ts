import type { LoadedConfig } from '../config/load-config.js';
import { AirflowClient } from '../airflow/airflow-client.js';
import { apiVersions } from '../airflow/api-versions.js';
import { KeyStore } from '../keys/key-store.js';
import { Policy } from '../policy/policy.js';
import type { LiveDags } from '../policy/policy-lint.js';
import { buildDeployments } from '../proxy/deployments.js';
import { permittedDagIds } from '../proxy/list-filter.js';

/**
 * How `policy check --airflow` reads the DAG list. Only `config` needs the config's own credentials (in
 * `trusted-jwks` mode: the Airflow private key, which could mint Airflow admin tokens); the other two hold
 * nothing that can sign, so CI can use them:
 * - `airflow-token`: an Airflow bearer token with read access, sent to the upstream's `url` as is;
 * - `broker-token`: an access token of the broker for this upstream, sent through the broker's own proxy
 *   (`<issuer>/airflow/<upstream>/api/v2/dags`), which shows only the DAGs that token may read.
 */
export type LiveDagsCredential = { kind: 'config' } | { kind: 'airflow-token'; token: string } | { kind: 'broker-token'; token: string };

/** In `trusted-jwks` mode the check calls Airflow as a viewer: listing DAGs needs no more. */
const viewerPolicy = Policy.fromDocument({ version: 1, roles: { 'policy-check': { admin: false, airflow_role: 'viewer', allow: [], deny: [] } }, bindings: [] }, '');

const checker = 'airflow-token-broker policy check';

/** Every DAG id of one configured upstream, read the way the proxy reads lists. `notice` hears what signs. */
export async function fetchLiveDags(loaded: LoadedConfig, upstream: string, credential: LiveDagsCredential, notice: (line: string) => void): Promise<LiveDags> {
  const { config, paths } = loaded;
  const up = Object.hasOwn(config.upstreams, upstream) ? config.upstreams[upstream] : undefined;
  if (!up) throw new Error(`--airflow: no upstream "${upstream}" in ${loaded.file}`);
  if (credential.kind === 'broker-token') {
    const url = `${config.issuer.replace(/\/+$/, '')}/airflow/${encodeURIComponent(upstream)}`;
    return listWith(upstream, new AirflowClient({ url, connectTimeoutMs: up.timeouts.connect, headersTimeoutMs: up.timeouts.headers, bodyTimeoutMs: up.timeouts.body }), async () => `Bearer ${credential.token}`, up);
  }
  if (!up.url) throw new Error(`--airflow: upstream "${upstream}" has no url`);
  const airflowKeys = new KeyStore({ dir: paths.airflowKeysDir, algorithm: config.keys.algorithm, maxTokenTtlMs: config.tokens.max_ttl });
  const deployment = buildDeployments({ ...config, upstreams: { [upstream]: up } }, airflowKeys, Date.now).get(upstream)!;
  if (credential.kind === 'airflow-token') return listWith(upstream, deployment.client, async () => `Bearer ${credential.token}`, up);
  if (up.credentials?.mode === 'trusted-jwks') {
    await airflowKeys.load();
    notice(
      `--airflow: signing a viewer token for upstream "${upstream}" with the Airflow private key in ${paths.airflowKeysDir} ` +
        '(a key that can mint Airflow admin tokens); CI needs no key with --airflow-token-env or --broker-token-env',
    );
  }
  const authorization = () =>
    deployment.credentials.authorization({ subject: checker, clientId: 'airflow-token-broker', roles: ['policy-check'], policy: viewerPolicy, claims: { sub: checker, client_id: 'airflow-token-broker' } });
  return listWith(upstream, deployment.client, authorization, up);
}

async function listWith(upstream: string, client: AirflowClient, authorization: () => Promise<string>, up: { api: keyof typeof apiVersions; list_scan_limit: number }): Promise<LiveDags> {
  try {
    const dagIds = await permittedDagIds({ client, apiRoot: apiVersions[up.api].root, authorization: await authorization(), scanLimit: up.list_scan_limit, paging: apiVersions[up.api].paging }, () => true);
    return { upstream, dagIds };
  } catch (err) {
    throw new Error(`--airflow: could not list the DAGs of upstream "${upstream}": ${(err as Error).message}`, { cause: err });
  } finally {
    await client.close();
  }
}
