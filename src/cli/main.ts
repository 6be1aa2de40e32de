#!/usr/bin/env node
import { Command, Option } from 'commander';
import { configCheck } from './config-check.js';
import { keysGenerate, keysList, keysRotate } from './keys-commands.js';
import { serve } from './serve.js';
import { token } from './token-command.js';

const program = new Command()
  .name('airflow-token-broker')
  .description('OAuth 2.0 token broker and authorizing proxy for Apache Airflow')
  .showHelpAfterError();

const configOption = () =>
  new Option('-c, --config <file>', 'operator config file').env('AIRFLOW_TOKEN_BROKER_CONFIG').default('config.yaml');

program.command('serve').description('run the broker').addOption(configOption()).action(serve);

program
  .command('config')
  .description('operator configuration')
  .command('check')
  .description('validate the config and the policy it names; exit 1 listing every problem')
  .addOption(configOption())
  .action(configCheck);

const keys = program.command('keys').description('signing keys in the keys directory');
keys.command('generate').description('add a key that signs immediately (first set-up)').addOption(configOption()).action(keysGenerate);
keys
  .command('rotate')
  .description('add the next key: published now, signing after the pre-publication time')
  .addOption(configOption())
  .option('--prepublish <duration>', 'override keys.prepublish (e.g. 1h)')
  .action(keysRotate);
keys.command('list').description('list keys and their state').addOption(configOption()).option('--json', 'JSON output').action(keysList);

program
  .command('token')
  .description('get an access token for a service account and print it (for shell scripts)')
  .requiredOption('--issuer <url>', 'the broker issuer URL')
  .requiredOption('--client-id <id>', 'service account client id')
  .addOption(
    new Option('--client-secret-env <var>', 'environment variable holding the client secret').default('AIRFLOW_TOKEN_BROKER_CLIENT_SECRET'),
  )
  .option('--client-secret-stdin', 'read the client secret from standard input')
  .option('--scope <roles>', 'space-separated role names')
  .option('--resource <uri>', 'the Airflow deployment (its audience)')
  .option('--authorization-details <json>', 'RFC 9396 narrowing, JSON array')
  .option('--json', 'print the whole token response as JSON')
  .option('--insecure-http', 'allow an http issuer (development on loopback only)')
  .action(token);

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
