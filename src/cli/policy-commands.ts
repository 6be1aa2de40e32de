import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig } from '../config/load-config.js';
import { InvalidFileError } from '../config/validate-source.js';
import { formatProblem, type SourceProblem, type YamlSource } from '../config/yaml-source.js';
import { diffPolicies, formatPolicyDiff } from '../policy/policy-diff.js';
import { deploymentNameProblems, namesDeployments } from '../policy/deployment-names.js';
import { parsePolicySource } from '../policy/policy-file.js';
import type { PolicyDocument } from '../policy/schema.js';
import { lintPolicy } from '../policy/policy-lint.js';
import { parseJsonBody } from '../proxy/request-body.js';
import { explainCall, formatExplanation, upstreamApis, type UpstreamApis } from '../admin/explain-call.js';
import { airflowRoleProblems } from './airflow-role-problems.js';
import { fetchLiveDags, type LiveDagsCredential } from './live-dags.js';
import { parseExpectations, runExpectations } from './policy-expectations.js';
import { principalFromClaims, principalFromToken } from '../admin/principal-input.js';

/** `policy explain` exits with this when the proxy would refuse the call (0 when it would allow it). */
export const EXIT_DENIED = 3;

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Reads a policy, or prints its located problems and exits 1. */
function policyOrExit(file: string) {
  try {
    return parsePolicySource(file, readFileSync(file, 'utf8'));
  } catch (err) {
    if (!(err instanceof InvalidFileError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}

export interface PolicyCheckOptions {
  config: string;
  /** `--config` was given (or set in the environment), not defaulted: the policy is also checked against it. */
  configGiven?: boolean;
  airflow?: string;
  /** Names of environment variables holding a read-only credential for `--airflow` (see `LiveDagsCredential`). */
  airflowTokenEnv?: string;
  brokerTokenEnv?: string;
}

/**
 * Validation (every error) and lint (warnings); exit 1 on errors only. With a config (`--config` or `--airflow`),
 * the roles are checked against its upstreams too.
 */
export async function policyCheck(file: string, options: PolicyCheckOptions): Promise<void> {
  const { policy, source } = policyOrExit(file);
  const credential = liveDagsCredential(options);
  const loaded = options.configGiven || options.airflow !== undefined ? configOrExit(options.config) : undefined;
  const unchecked = checkDeploymentNames(file, policy.document, source, options.config);
  const errors = loaded ? airflowRoleProblems(loaded.config, policy, source) : [];
  const live = options.airflow === undefined || errors.length ? undefined : await fetchLiveDags(loaded!, options.airflow, credential, (line) => process.stderr.write(`${line}\n`));
  const warnings = [...unchecked, ...lintPolicy(policy, source, live)];
  const problems: SourceProblem[] = [...errors, ...warnings].sort((a, b) => a.line - b.line || a.column - b.column);
  for (const w of problems) process.stderr.write(`${formatProblem(w)}\n`);
  if (errors.length) {
    process.exitCode = 1;
    return;
  }
  const counted = `${plural(policy.roles.size, 'role')}, ${plural(policy.document.bindings.length, 'binding')}`;
  const checkedLive = live ? `, DAGs checked against upstream ${live.upstream}` : '';
  process.stdout.write(`${file}: ok (${counted}${checkedLive}${warnings.length ? `, ${plural(warnings.length, 'warning')}` : ''})\n`);
}

/**
 * `deployments` names against the upstreams of the config, read only when the policy names deployments: unknown
 * names are errors (printed, exit 1); without a config file the one warning returned says they were not checked.
 */
function checkDeploymentNames(file: string, document: PolicyDocument, source: YamlSource, configFile: string): SourceProblem[] {
  if (!namesDeployments(document)) return [];
  if (!existsSync(configFile)) return deploymentNameProblems(document, source, undefined, `no config at ${resolve(configFile)} (give --config)`);
  const problems = deploymentNameProblems(document, source, Object.keys(loadConfig(configFile).config.upstreams));
  if (problems.length === 0) return [];
  process.stderr.write(`${new InvalidFileError(file, problems).message}\n`);
  process.exit(1);
}

function liveDagsCredential(options: PolicyCheckOptions): LiveDagsCredential {
  const given = [options.airflowTokenEnv && ['airflow-token', options.airflowTokenEnv], options.brokerTokenEnv && ['broker-token', options.brokerTokenEnv]].filter((x): x is [string, string] => !!x);
  if (given.length === 0) return { kind: 'config' };
  if (given.length > 1) throw new Error('give at most one of --airflow-token-env and --broker-token-env');
  if (options.airflow === undefined) throw new Error(`--${given[0]![0]}-env needs --airflow`);
  const [kind, variable] = given[0]!;
  const token = process.env[variable];
  if (!token) throw new Error(`--${kind}-env: environment variable ${variable} is not set`);
  return { kind: kind as 'airflow-token' | 'broker-token', token };
}

/** The API version of each upstream, from the config when one was named (else every bare path is `/api/v2`). */
const apisOf = (options: { config: string; configGiven?: boolean }): UpstreamApis => (options.configGiven ? upstreamApis(configOrExit(options.config).config.upstreams) : {});

function configOrExit(file: string) {
  try {
    return loadConfig(file);
  } catch (err) {
    if (!(err instanceof InvalidFileError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}

export interface ExplainOptions {
  policy: string;
  config: string;
  /** `--config` was given (or set in the environment): bare paths are read with each upstream's API version. */
  configGiven?: boolean;
  token?: string;
  claims?: string;
  body?: string;
  deployment?: string;
  json?: boolean;
}

export async function policyExplain(method: string, path: string, options: ExplainOptions): Promise<void> {
  if ((options.token === undefined) === (options.claims === undefined)) throw new Error('give exactly one of --token and --claims');
  const { policy } = policyOrExit(options.policy);
  const who =
    options.token !== undefined
      ? principalFromToken(options.token === '-' ? readFileSync(0, 'utf8') : options.token)
      : principalFromClaims(policy, options.claims!, readFileSync(options.claims!, 'utf8'));
  const body = options.body === undefined ? undefined : parseJsonBody(readFileSync(options.body), 'application/json').json;
  const explanation = await explainCall(policy, who.principal, { method, path, body, deployment: options.deployment }, apisOf(options));
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ principal: { source: who.source, token: who.token, details: who.principal.details ?? null }, ...explanation }, null, 2)}\n`);
  } else {
    process.stdout.write(`principal: ${who.source}\n${formatExplanation(explanation)}`);
  }
  if (explanation.verdict === 'deny') process.exitCode = EXIT_DENIED;
}

export function policyDiff(oldFile: string, newFile: string, options: { json?: boolean }): void {
  const diff = diffPolicies(policyOrExit(oldFile).policy, policyOrExit(newFile).policy);
  process.stdout.write(options.json ? `${JSON.stringify(diff, null, 2)}\n` : formatPolicyDiff(diff));
}

/** Runs an expectation file; every mismatch is printed with file:line, exit 1 when any fails. */
export async function policyTest(file: string, options: { policy: string; config: string; configGiven?: boolean }): Promise<void> {
  const { policy } = policyOrExit(options.policy);
  const { expectations, problems } = parseExpectations(file, readFileSync(file, 'utf8'));
  for (const p of problems) process.stderr.write(`${formatProblem(p)}\n`);
  const results = await runExpectations(policy, expectations, apisOf(options));
  const failed = results.filter((r) => !r.passed);
  for (const r of failed) {
    const e = r.expectation;
    const got = r.explanation
      ? `but the proxy would ${r.explanation.verdict === 'filter' ? 'allow it, filtered' : `${r.explanation.verdict} it`} (${r.explanation.decision.reason}) for roles [${r.explanation.roles.join(', ')}]`
      : r.error;
    process.stderr.write(`${file}:${e.line}:1 fail: ${e.text}\n  ${got}\n`);
  }
  const summary = `${plural(results.length, 'expectation')}: ${results.length - failed.length} passed, ${failed.length} failed`;
  process.stdout.write(`${summary}${problems.length ? `; ${plural(problems.length, 'unreadable line')}` : ''}\n`);
  if (failed.length || problems.length) process.exitCode = 1;
}
