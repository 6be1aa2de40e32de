import { resolve } from 'node:path';
import { startServer } from '../src/server.js';
import { DEMO_ACCOUNTS, startDevDirectory } from './dev-directory.js';

/**
 * `npm run demo`: a development-only directory (service account demo-etl / demo-etl-secret in group
 * airflow-etl) on 127.0.0.1:8401, and the broker with examples/config.yaml and the example policy on :8400.
 */
const configFile = resolve(process.env.AIRFLOW_TOKEN_BROKER_CONFIG ?? 'examples/config.yaml');

const directory = await startDevDirectory({ port: Number(process.env.DEMO_DIRECTORY_PORT ?? 8401) });
const broker = await startServer(configFile);
const issuer = broker.services.config.issuer;

process.stdout.write(`
  airflow-token-broker demo  (DEVELOPMENT ONLY: fixed secrets, throwaway directory)

  directory  ${directory.issuer}   service accounts: ${DEMO_ACCOUNTS.map((a) => `${a.clientId} (${a.groups.join(',') || 'no groups'})`).join(', ')}
  broker     ${issuer}
  metadata   ${issuer}/.well-known/oauth-authorization-server

  Get a token for demo-etl:

    curl -s -u demo-etl:demo-etl-secret -d grant_type=client_credentials ${issuer}/oauth2/token

  Narrowed to triggering etl_daily only:

    curl -s -u demo-etl:demo-etl-secret -d grant_type=client_credentials \\
      --data-urlencode 'authorization_details=[{"type":"airflow","dags":["etl_daily"],"actions":["trigger"]}]' \\
      ${issuer}/oauth2/token

  Ctrl-C stops everything.
`);

const stop = async () => {
  await broker.stop();
  await directory.close();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
