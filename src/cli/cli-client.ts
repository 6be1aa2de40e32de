import * as oidc from 'openid-client';

/** The CLI's public client id when the broker's metadata names none (`login.cli.client_id`'s default). */
export const DEFAULT_CLI_CLIENT_ID = 'airflow-token-broker-cli';

/**
 * The broker as the CLI's authorization server, through openid-client: discovery, then the public client (no
 * secret, RFC 8252) the metadata names in `airflow_cli_client_id`.
 */
export async function discoverCliClient(issuer: string, insecureHttp: boolean | undefined): Promise<oidc.Configuration> {
  const execute = insecureHttp ? [oidc.allowInsecureRequests] : [];
  const discovered = await oidc.discovery(new URL(issuer), DEFAULT_CLI_CLIENT_ID, undefined, oidc.None(), { execute });
  const metadata = discovered.serverMetadata();
  const clientId = typeof metadata.airflow_cli_client_id === 'string' ? metadata.airflow_cli_client_id : DEFAULT_CLI_CLIENT_ID;
  if (clientId === DEFAULT_CLI_CLIENT_ID) return discovered;
  const config = new oidc.Configuration(metadata, clientId, undefined, oidc.None());
  for (const apply of execute) apply(config);
  return config;
}
