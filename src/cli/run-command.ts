import { readFileSync } from 'node:fs';
import { parseDuration } from '../config/duration.js';
import { DeploymentApi, type TriggerBody } from './deployment-api.js';
import { pickDeployment } from './broker-deployment.js';
import { CliExit, EXIT, exitWith } from './exit-codes.js';
import { followRun, type FollowOptions } from './follow-run.js';
import { RenewingToken } from './renewing-token.js';
import { openBrokerSession, TokenRefused, type ServiceAccountOptions } from './service-account-token.js';

export interface WaitOptions extends ServiceAccountOptions {
  deployment?: string;
  timeout?: string;
  pollInterval: string;
}

export interface RunOptions extends WaitOptions {
  conf?: string;
  logicalDate?: string;
  runId?: string;
  wait?: boolean;
}

/** `run DAG_ID`: triggers one run through the proxy, prints its id and, with `--wait`, follows it to its end. */
export function run(dagId: string, options: RunOptions): Promise<void> {
  return exitWith(async () => {
    if (options.timeout !== undefined && !options.wait) throw new CliExit(EXIT.badInput, '--timeout applies to --wait');
    const body = triggerBody(options);
    const follow = options.wait ? followOptions(options) : undefined;
    const api = await connect(options);
    const triggered = await api.triggerRun(dagId, body);
    process.stdout.write(`${triggered.dag_run_id}\n`);
    if (follow) await waitForEnd(api, dagId, triggered.dag_run_id, follow);
  });
}

/** `wait DAG_ID RUN_ID`: follows a run triggered earlier (by `run` without `--wait`, or anyone) to its end. */
export function wait(dagId: string, runId: string, options: WaitOptions): Promise<void> {
  return exitWith(async () => {
    const follow = followOptions(options);
    await waitForEnd(await connect(options), dagId, runId, follow);
  });
}

async function waitForEnd(api: DeploymentApi, dagId: string, runId: string, follow: FollowOptions): Promise<void> {
  const end = await followRun(api, dagId, runId, follow);
  process.stdout.write(`${end.state}\n`);
  if (end.state === 'success') return;
  const run = `${api.root}/dags/${encodeURIComponent(dagId)}/dagRuns/${encodeURIComponent(runId)}`;
  const logs = end.tasks
    .filter((ti) => ti.state === 'failed' || ti.state === 'upstream_failed')
    .map((ti) => `\n  ${ti.task_id}: ${ti.state}, log: ${run}/taskInstances/${encodeURIComponent(ti.task_id)}/logs/${ti.try_number}${ti.map_index >= 0 ? `?map_index=${ti.map_index}` : ''}`);
  throw new CliExit(EXIT.runFailed, `run ${runId} of ${dagId} ${end.state}${logs.join('')}`);
}

function triggerBody(options: RunOptions): TriggerBody {
  if (options.logicalDate !== undefined && Number.isNaN(Date.parse(options.logicalDate))) {
    throw new CliExit(EXIT.badInput, `--logical-date: "${options.logicalDate}" is not an ISO 8601 date-time (e.g. 2026-12-01T00:00:00Z)`);
  }
  return {
    logical_date: options.logicalDate ?? null,
    ...(options.runId !== undefined && { dag_run_id: options.runId }),
    ...(options.conf !== undefined && { conf: readConf(options.conf) }),
  };
}

/** `--conf '{"k":1}'` or `--conf @file.json`: a JSON object (Airflow's `conf` is one). */
function readConf(value: string): Record<string, unknown> {
  let text = value;
  if (value.startsWith('@')) {
    try {
      text = readFileSync(value.slice(1), 'utf8');
    } catch (err) {
      throw new CliExit(EXIT.badInput, `--conf: cannot read ${value.slice(1)}: ${(err as Error).message}`);
    }
  }
  let conf: unknown;
  try {
    conf = JSON.parse(text);
  } catch (err) {
    throw new CliExit(EXIT.badInput, `--conf: not JSON: ${(err as Error).message}`);
  }
  if (typeof conf !== 'object' || conf === null || Array.isArray(conf)) throw new CliExit(EXIT.badInput, '--conf: must be a JSON object');
  return conf as Record<string, unknown>;
}

function followOptions(options: WaitOptions): FollowOptions {
  const timeoutMs = options.timeout === undefined ? undefined : durationOption('--timeout', options.timeout);
  const intervalMs = durationOption('--poll-interval', options.pollInterval);
  return { timeoutMs, intervalMs, maxOutageMs: 120_000, log: (line: string) => process.stderr.write(`${line}\n`) };
}

function durationOption(flag: string, value: string): number {
  const ms = parseDuration(/^\d+$/.test(value) ? Number(value) : value);
  if (ms === undefined || ms === 0) throw new CliExit(EXIT.badInput, `${flag}: "${value}" is not a duration (e.g. 90s, 30m, 2h)`);
  return ms;
}

/**
 * Opens a session at the broker, picks the deployment from its metadata (`--deployment`, else the broker's
 * default deployment) and gets a first token for it, so bad credentials fail before anything is triggered.
 */
async function connect(options: WaitOptions): Promise<DeploymentApi> {
  const broker = await openBrokerSession(options).catch((err: unknown) => {
    if (err instanceof CliExit) throw err;
    throw new CliExit(EXIT.unavailable, `cannot read the broker's metadata at ${options.issuer}: ${err instanceof Error ? err.message : String(err)}`);
  });
  const { name, deployment } = pickDeployment(broker.metadata, options.deployment);
  if (deployment.api !== 'v2') throw new CliExit(EXIT.badInput, `deployment "${name}" is an Airflow 2 (api ${deployment.api}); run and wait follow Airflow 3 runs (api v2)`);
  const token = new RenewingToken(async () => {
    try {
      return await broker.requestToken({ resource: deployment.resource });
    } catch (err) {
      if (err instanceof CliExit) throw err;
      if (err instanceof TokenRefused) {
        const trouble = err.status >= 500 || err.error === 'temporarily_unavailable';
        throw new CliExit(trouble ? EXIT.unavailable : EXIT.refused, `the broker refused a token: ${err.message}`);
      }
      throw new CliExit(EXIT.unavailable, `token request: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
  await token.current();
  return new DeploymentApi(`${deployment.url}/api/v2`, token);
}
