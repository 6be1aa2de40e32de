#!/usr/bin/env node
import { Command, Option } from 'commander';
import { withClientSecretOptions } from './client-secret.js';
import { configCheck } from './config-check.js';
import { directoryCheck } from './directory-check.js';
import { login, logout, type LoginOptions, type LogoutOptions } from './login-command.js';
import { keysGenerate, keysList, keysRotate } from './keys-commands.js';
import { policyCheck, policyDiff, policyExplain, policyTest, type ExplainOptions, type PolicyCheckOptions } from './policy-commands.js';
import { EXIT } from './exit-codes.js';
import { run, wait } from './run-command.js';
import { serve } from './serve.js';
import { issuerOption, withServiceAccountOptions } from './service-account-token.js';
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

const keys = program.command('keys').description('signing keys: the broker set (client tokens) or the airflow set (trusted-jwks tokens)');
const keySetOption = () =>
  new Option('--set <set>', 'broker: keys.dir (client access tokens); airflow: keys.airflow_dir (per-caller Airflow tokens)')
    .choices(['broker', 'airflow'])
    .default('broker');
keys
  .command('generate')
  .description('add a key that signs immediately (first set-up)')
  .addOption(configOption())
  .addOption(keySetOption())
  .action(keysGenerate);
keys
  .command('rotate')
  .description('add the next key: published now, signing after the pre-publication time')
  .addOption(configOption())
  .addOption(keySetOption())
  .option('--prepublish <duration>', 'override keys.prepublish, or keys.airflow_prepublish with --set airflow (e.g. 2h)')
  .option('--force', 'with --set airflow: accept a pre-publication shorter than Airflow\'s hourly JWKS refresh')
  .action(keysRotate);
keys
  .command('list')
  .description('list keys and their state (--set airflow: also the keys.airflow_publish_also keys, as external)')
  .addOption(configOption())
  .addOption(keySetOption())
  .option('--json', 'JSON output')
  .action(keysList);

const policy = program.command('policy').description('tools for the security admins who own the policy file');
policy
  .command('check')
  .description('validate a policy: every error and warning as file:line:column; exit 1 on errors, 0 with only warnings')
  .argument('<file>', 'policy file')
  .option('--airflow <upstream>', 'also warn about dags patterns that match no DAG of this upstream of the config')
  .option('--airflow-token-env <var>', 'with --airflow: list DAGs with the Airflow bearer token (read access) in this environment variable')
  .option('--broker-token-env <var>', "with --airflow: list DAGs through the broker's proxy with the broker access token in this variable")
  .addOption(configOption())
  .action((file: string, opts: Omit<PolicyCheckOptions, 'configGiven'>, cmd: Command) => policyCheck(file, { ...opts, configGiven: cmd.getOptionValueSource('config') !== 'default' }));
policy
  .command('explain')
  .description('what the proxy decides for a call, and why; exit 0 allowed (also filtered), 3 denied')
  .argument('<method>', 'HTTP method')
  .argument('<path>', '/dags/..., /api/v2/dags/... (/api/v1/... for Airflow 2) or the proxy path /airflow/<upstream>/api/v2/...')
  .requiredOption('--policy <file>', 'policy file')
  .option('--token <jwt>', 'a broker access token, decoded without verifying its signature; "-" reads it from stdin')
  .option('--claims <file>', 'JSON or YAML: scope [+ authorization_details], or identity claims client_id, sub, groups, directory')
  .option('--body <file>', 'the JSON request body')
  .option('--deployment <upstream>', 'the deployment to decide on when the path does not name it (grants limited to deployments apply only there)')
  .option('--json', 'JSON output')
  .addOption(configOption())
  .action((method: string, path: string, opts: Omit<ExplainOptions, 'configGiven'>, cmd: Command) =>
    policyExplain(method, path, { ...opts, configGiven: cmd.getOptionValueSource('config') !== 'default' }),
  );
policy
  .command('diff')
  .description('the effective change between two policy versions, per role and per binding')
  .argument('<old>', 'policy file before')
  .argument('<new>', 'policy file after')
  .option('--json', 'JSON output')
  .action(policyDiff);
policy
  .command('test')
  .description('check an expectation file ("<who> may|may not <METHOD> <PATH>") against a policy; exit 1 on any mismatch')
  .argument('<expectations>', 'expectation file')
  .requiredOption('--policy <file>', 'policy file')
  .addOption(configOption())
  .action((file: string, opts: { policy: string; config: string }, cmd: Command) => policyTest(file, { ...opts, configGiven: cmd.getOptionValueSource('config') !== 'default' }));

const directory = program.command('directory').description('the central directories of the config');
withClientSecretOptions(
  directory
    .command('check')
    .description(
      'a live client-credentials grant at a directory: what the broker sees (issuer, aud, algorithm, claims), which bindings ' +
        'match, the roles and what to fix; exit 0 when the client would get a role and nothing is wrong, 1 otherwise',
    )
    .requiredOption('--directory <name>', 'a directory of the config (directories.<name>)')
    .requiredOption('--client-id <id>', 'service account client id at that directory')
    .addOption(configOption()),
)
  .option('--json', 'JSON output')
  .action(directoryCheck);

withServiceAccountOptions(program.command('token').description('get an access token for a service account and print it (for shell scripts)'))
  .option('--resource <uri>', 'the Airflow deployment (its audience)')
  .option('--authorization-details <json>', 'RFC 9396 narrowing, JSON array')
  .option('--json', 'print the whole token response as JSON')
  .action(token);

const loginOptions = (command: Command) =>
  command
    .addOption(issuerOption())
    .option('--deployment <name>', "the deployment at the broker (default: the broker's default deployment, or its only one)")
    .option('--insecure-http', 'allow an http issuer (development on loopback only)');

loginOptions(
  program
    .command('login')
    .description('log in as a person in a browser (directory login at the broker); caches a short-lived token for token, run and wait'),
)
  .option('--no-browser', 'only print the address to open (on another machine, or in a browser of your choice)')
  .action((options: LoginOptions) => login(options));

loginOptions(program.command('logout').description('remove the cached login tokens of a broker (--deployment: one) and revoke them there')).action((options: LogoutOptions) => logout(options));

/** `run` and `wait` exit with the documented codes (src/cli/exit-codes.ts), usage errors included. */
const runOrWait = (command: Command) =>
  withServiceAccountOptions(command)
    .option('--deployment <name>', "the deployment at the broker (default: the broker's default deployment, or its only one)")
    .option('--poll-interval <duration>', 'how often the run and its tasks are read while waiting', '2s')
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT.badInput));

runOrWait(
  program
    .command('run')
    .description('trigger a DAG run through the proxy and print its id; with --wait follow it to its end (exit codes: docs/cli.md)')
    .argument('<dag_id>', 'the DAG to trigger'),
)
  .option('--conf <json>', 'the run\'s conf: a JSON object, or @file to read it from a file')
  .option('--logical-date <iso>', 'the logical date (ISO 8601; default: none, as Airflow 3 allows)')
  .option('--run-id <id>', 'your own run id: re-sending the same command never makes a second run (Airflow answers 409, exit 6)')
  .option('--wait', 'follow the run until it ends: exit 0 on success, 1 when it failed')
  .option('--timeout <duration>', 'with --wait: give up after this long (exit 4; the run goes on), e.g. 30m')
  .action(run);

runOrWait(
  program
    .command('wait')
    .description('follow a DAG run until it ends, printing task states as they change; exit 0 on success (exit codes: docs/cli.md)')
    .argument('<dag_id>', 'the DAG')
    .argument('<run_id>', 'the run, as `run` printed it'),
)
  .option('--timeout <duration>', 'give up after this long (exit 4; the run goes on), e.g. 30m')
  .action(wait);

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
