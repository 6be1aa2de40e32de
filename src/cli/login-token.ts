import type { BrokerSession } from './service-account-token.js';
import { pickDeployment } from './broker-deployment.js';
import { discoverCliClient } from './cli-client.js';
import { CliExit, EXIT } from './exit-codes.js';
import { TokenCache } from './token-cache.js';

/** A cached token this close to its end is not handed out: the command could not finish with it. */
const MIN_REMAINING_MS = 5_000;

/**
 * `token`, `run` and `wait` without `--client-id`: the person's token that `airflow-token-broker login` cached for
 * the deployment. It cannot be renewed without the person: once it has expired, or the proxy refused it, the command
 * ends with exit 7 and says to log in again.
 */
export async function openLoginSession(options: { issuer: string; insecureHttp?: boolean }, cache = new TokenCache(), now: () => number = Date.now): Promise<BrokerSession> {
  const config = await discoverCliClient(options.issuer, options.insecureHttp);
  const metadata = config.serverMetadata();
  const handedOut = new Set<string>();
  return {
    metadata,
    async requestToken(params = {}) {
      const named = Object.entries(metadata.airflow_deployments ?? {}).find(([, d]) => (d as { resource: string }).resource === params.resource)?.[0];
      if (params.resource !== undefined && named === undefined) throw new CliExit(EXIT.badInput, `the broker proxies no deployment with resource ${params.resource}`);
      const { name } = pickDeployment(metadata, named);
      const cached = cache.get(options.issuer, name);
      const again = `run \`airflow-token-broker login --deployment ${name}\` again`;
      if (!cached) throw new CliExit(EXIT.loginRequired, `not logged in to deployment ${name} at ${options.issuer} (and no --client-id given): run \`airflow-token-broker login --deployment ${name}\``);
      if (cached.expires_at - now() < MIN_REMAINING_MS) throw new CliExit(EXIT.loginRequired, `your login token for deployment ${name} has expired: ${again}`);
      // Asked again for the token handed out already: it is about to expire, or the proxy refused it (revoked).
      if (handedOut.has(cached.access_token)) throw new CliExit(EXIT.loginRequired, `your login token for deployment ${name} cannot be renewed without you: ${again}`);
      handedOut.add(cached.access_token);
      return { access_token: cached.access_token, token_type: 'bearer', expires_in: Math.floor((cached.expires_at - now()) / 1000), scope: cached.scope };
    },
  };
}
