import * as oidc from 'openid-client';
import { readClientSecret, type ClientSecretOptions } from './client-secret.js';

interface TokenOptions extends ClientSecretOptions {
  issuer: string;
  clientId: string;
  scope?: string;
  resource?: string;
  authorizationDetails?: string;
  json?: boolean;
  insecureHttp?: boolean;
}

/**
 * A client-credentials request to the broker through openid-client (discovery from the broker's metadata).
 * The secret comes from the environment or stdin, never from a flag that `ps` would show.
 */
export async function token(options: TokenOptions): Promise<void> {
  const secret = readClientSecret(options);
  const config = await oidc.discovery(new URL(options.issuer), options.clientId, undefined, oidc.ClientSecretBasic(secret), {
    execute: options.insecureHttp ? [oidc.allowInsecureRequests] : [],
  });
  const params: Record<string, string> = {};
  if (options.scope) params.scope = options.scope;
  if (options.resource) params.resource = options.resource;
  if (options.authorizationDetails) params.authorization_details = options.authorizationDetails;
  try {
    const response = await oidc.clientCredentialsGrant(config, params);
    process.stdout.write(options.json ? JSON.stringify(response, null, 2) + '\n' : `${response.access_token}\n`);
  } catch (err) {
    if (err instanceof oidc.ResponseBodyError) throw new Error(`${err.error}: ${err.error_description ?? ''}`);
    if (err instanceof oidc.WWWAuthenticateChallengeError) {
      const params = err.cause[0]?.parameters;
      throw new Error(`${params?.error ?? 'unauthorized'}: ${params?.error_description ?? ''}`);
    }
    throw err;
  }
}
