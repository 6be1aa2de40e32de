import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { CliExit, EXIT } from './exit-codes.js';

/** How a command is told a client secret: never as a flag, which `ps` and shell histories would show. */
export interface ClientSecretOptions {
  clientSecretEnv: string;
  clientSecretStdin?: boolean;
}

/** Adds `--client-secret-env <var>` (default AIRFLOW_TOKEN_BROKER_CLIENT_SECRET) and `--client-secret-stdin`. */
export function withClientSecretOptions(command: Command): Command {
  return command
    .addOption(new Option('--client-secret-env <var>', 'environment variable holding the client secret').default('AIRFLOW_TOKEN_BROKER_CLIENT_SECRET'))
    .option('--client-secret-stdin', 'read the client secret from standard input');
}

export function readClientSecret(options: ClientSecretOptions): string {
  const secret = options.clientSecretStdin ? readFileSync(0, 'utf8').trim() : process.env[options.clientSecretEnv];
  if (!secret) throw new CliExit(EXIT.badInput, `no client secret: set ${options.clientSecretEnv} or use --client-secret-stdin`);
  return secret;
}
