import { Option, type Command } from 'commander';
import * as oidc from 'openid-client';
import { readClientSecret, withClientSecretOptions, type ClientSecretOptions } from './client-secret.js';
import { CliExit, EXIT } from './exit-codes.js';
import { openLoginSession } from './login-token.js';

/** How `token`, `run` and `wait` reach the broker as a service account. */
export interface ServiceAccountOptions extends ClientSecretOptions {
  issuer: string;
  /** Absent: the person's token of `airflow-token-broker login` is used (src/cli/login-token.ts). */
  clientId?: string;
  /** Space-separated role names; default: every role the account has. */
  scope?: string;
  insecureHttp?: boolean;
}

/** The broker answered a token request with an OAuth error (`invalid_client`, `invalid_scope`, ...). */
export class TokenRefused extends Error {
  constructor(
    readonly error: string,
    description: string | undefined,
    /** HTTP status of the answer: 5xx and `temporarily_unavailable` are the broker's trouble, not the caller's. */
    readonly status: number,
  ) {
    super(`${error}: ${description ?? ''}`);
    this.name = 'TokenRefused';
  }
}

/** `--issuer <url>` (or AIRFLOW_TOKEN_BROKER_ISSUER), required by every command that talks to a broker. */
export const issuerOption = () => new Option('--issuer <url>', 'the broker issuer URL').env('AIRFLOW_TOKEN_BROKER_ISSUER').makeOptionMandatory();

/** Adds `--issuer`, `--client-id` (both also from the environment; without a client id, the login's token), the secret options, `--scope`, `--insecure-http`. */
export function withServiceAccountOptions(command: Command): Command {
  return withClientSecretOptions(
    command
      .addOption(issuerOption())
      .addOption(new Option('--client-id <id>', 'service account client id (without it: your token of `airflow-token-broker login`)').env('AIRFLOW_TOKEN_BROKER_CLIENT_ID')),
  )
    .option('--scope <roles>', 'space-separated role names')
    .option('--insecure-http', 'allow an http issuer (development on loopback only)');
}

/** The broker as one service account sees it: its metadata, and client-credentials grants on demand. */
export interface BrokerSession {
  metadata: oidc.ServerMetadata;
  /** A client-credentials grant; `params` adds `resource`, `authorization_details`... to the account's `scope`. */
  requestToken(params?: Record<string, string>): Promise<oidc.TokenEndpointResponse>;
}

/**
 * Discovers the broker from its metadata and returns a session for client-credentials requests through
 * openid-client. The secret comes from the environment or stdin, never from a flag that `ps` would show.
 */
export async function openBrokerSession(options: ServiceAccountOptions): Promise<BrokerSession> {
  // An empty AIRFLOW_TOKEN_BROKER_CLIENT_ID is no client id, as shells mean it.
  if (!options.clientId) {
    if (options.scope !== undefined) throw new CliExit(EXIT.badInput, '--scope needs --client-id: a login token has the roles of your login');
    return openLoginSession(options);
  }
  const secret = readClientSecret(options);
  const config = await oidc.discovery(new URL(options.issuer), options.clientId, undefined, oidc.ClientSecretBasic(secret), {
    execute: options.insecureHttp ? [oidc.allowInsecureRequests] : [],
  });
  return {
    metadata: config.serverMetadata(),
    async requestToken(params = {}) {
      try {
        return await oidc.clientCredentialsGrant(config, { ...(options.scope && { scope: options.scope }), ...params });
      } catch (err) {
        if (err instanceof oidc.ResponseBodyError) throw new TokenRefused(err.error, err.error_description, err.status);
        if (err instanceof oidc.WWWAuthenticateChallengeError) {
          const challenge = err.cause[0]?.parameters;
          throw new TokenRefused(challenge?.error ?? 'unauthorized', challenge?.error_description, err.response.status);
        }
        throw err;
      }
    },
  };
}
