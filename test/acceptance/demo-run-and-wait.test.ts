import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FREE_PORTS, startDemoStack, type DemoStack } from '../../scripts/demo-stack.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { basic } from '../helpers/broker-harness.js';
import { runCli } from '../helpers/run-cli.js';

/**
 * The demo's stack (scripts/demo-stack.ts: dev directory, Airflow 3.3.2 with a scheduler and a DAG processor, the
 * demo DAGs unpaused, the broker with examples/config.yaml) on free ports, and what the README shows on it:
 * `airflow-token-broker run etl_daily --wait`, the task's log read back through the proxy, and the Postman
 * collection run by newman.
 */

const timeout = 240_000;
let stack: DemoStack;

beforeAll(async () => {
  process.env.AIRFLOW_PROXY_PASSWORD = 'proxy-pass';
  stack = await startDemoStack({ ports: FREE_PORTS, configure: (c) => Object.assign(c, { logging: { level: 'silent' }, audit: { destination: './audit.log' } }) });
}, timeout);

afterAll(async () => stack?.stop(), timeout);

const cli = (args: string[], secret = 'demo-etl-secret') =>
  runCli([...args, '--issuer', stack.issuer, '--client-id', 'demo-etl', '--insecure-http', '--poll-interval', '1s'], {
    env: { AIRFLOW_TOKEN_BROKER_CLIENT_SECRET: secret },
  });

/** Fails with the CLI's output and Airflow's log when the exit code is not the expected one. */
function expectExit(res: { code: number; stdout: string; stderr: string }, code: number): void {
  if (res.code !== code) throw new Error(`exit ${res.code}, expected ${code}\nstdout: ${res.stdout}\nstderr: ${res.stderr}\nAirflow:\n${stack.airflow!.logTail()}`);
}

async function demoEtlToken(): Promise<string> {
  const res = await fetch(`${stack.issuer}/oauth2/token`, {
    method: 'POST',
    headers: { authorization: basic('demo-etl', 'demo-etl-secret'), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  return ((await res.json()) as { access_token: string }).access_token;
}

describe('run and wait on the demo Airflow (scheduler, unpaused DAGs)', () => {
  it(
    'run etl_daily --wait exits 0 on a succeeding run, printing the run id, the task states and the end state',
    async () => {
      const res = await cli(['run', 'etl_daily', '--wait', '--run-id', 'cli-success', '--timeout', '3m']);
      expectExit(res, EXIT.success);
      expect(res.stdout).toBe('cli-success\nsuccess\n');
      expect(res.stderr).toMatch(/^ {2}extract: success$/m);
      expect(res.stderr).toMatch(/^run cli-success: success$/m);
    },
    timeout,
  );

  it(
    'the task logged a line that the person who triggered reads back through the proxy (read_logs on etl_*)',
    async () => {
      const res = await fetch(`${stack.issuer}/airflow/local/api/v2/dags/etl_daily/dagRuns/cli-success/taskInstances/extract/logs/1`, {
        headers: { authorization: `Bearer ${await demoEtlToken()}`, accept: 'application/json' },
      });
      expect(res.status).toBe(200);
      const events = ((await res.json()) as { content: Array<{ event: string }> }).content.map((e) => e.event);
      expect(events).toContain('etl_daily extract: run cli-success extracted 3 rows');
    },
    timeout,
  );

  it(
    'run --wait exits 1 on a failing run (etl_daily with conf.fail), the conf read from a file',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'atb-conf-'));
      writeFileSync(join(dir, 'conf.json'), '{"fail": true}');
      const res = await cli(['run', 'etl_daily', '--wait', '--conf', `@${join(dir, 'conf.json')}`, '--timeout', '3m']);
      expectExit(res, EXIT.runFailed);
      expect(res.stdout).toMatch(/^\S+\nfailed\n$/);
      expect(res.stderr).toMatch(/^ {2}extract: failed$/m);
      expect(res.stderr).toMatch(/^  extract: failed, log: http:\S+\/airflow\/local\/api\/v2\/dags\/etl_daily\/dagRuns\/\S+\/taskInstances\/extract\/logs\/1$/m);
    },
    timeout,
  );

  it(
    'run without --wait returns at once with the run id; wait picks the run up later and exits 0',
    async () => {
      const started = await cli(['run', 'etl_daily', '--conf', '{"source": "cli"}']);
      expectExit(started, EXIT.success);
      const runId = started.stdout.trim();
      expect(runId).toMatch(/^manual__/);
      expect(started.stderr).toBe(''); // no state was followed
      const waited = await cli(['wait', 'etl_daily', runId, '--timeout', '3m']);
      expectExit(waited, EXIT.success);
      expect(waited.stdout).toBe('success\n');
    },
    timeout,
  );

  it(
    'run-id-reused: the same command sent again makes no second run (409, exit 6)',
    async () => {
      const again = await cli(['run', 'etl_daily', '--run-id', 'cli-success']);
      expectExit(again, EXIT.conflict);
      expect(again.stderr).toMatch(/HTTP 409/);
    },
    timeout,
  );

  it(
    'an unknown DAG or run is bad input (Airflow 404, exit 2)',
    async () => {
      const trigger = await cli(['run', 'etl_nonexistent']);
      expectExit(trigger, EXIT.badInput);
      expect(trigger.stderr).toMatch(/triggering etl_nonexistent: HTTP 404/);
      const waited = await cli(['wait', 'etl_daily', 'no-such-run']);
      expectExit(waited, EXIT.badInput);
      expect(waited.stderr).toMatch(/reading run no-such-run of etl_daily: HTTP 404/);
    },
    timeout,
  );

  it(
    'wait --timeout exits 4 while the run goes on',
    async () => {
      const started = await cli(['run', 'etl_daily', '--run-id', 'cli-timeout', '--conf', '{"sleep": 10}']);
      expectExit(started, EXIT.success);
      const waited = await cli(['wait', 'etl_daily', 'cli-timeout', '--timeout', '1s']);
      expectExit(waited, EXIT.timeout);
      expect(waited.stderr).toMatch(/still (queued|running) after 1s; it goes on/);
      // It does go on: waiting again sees it end.
      expectExit(await cli(['wait', 'etl_daily', 'cli-timeout', '--timeout', '3m']), EXIT.success);
    },
    timeout,
  );
});

const collection = resolve('examples/postman/airflow-token-broker.postman_collection.json');
const environment = resolve('examples/postman/demo.postman_environment.json');

interface NewmanReport {
  run: { stats: { assertions: { total: number; failed: number } }; failures: Array<{ error: { test?: string; message: string } }> };
}

/** The newman bin (npm devDependency) on the shipped collection and demo environment, issuer moved to the stack's. */
function newman(extra: string[]): Promise<{ code: number; report: NewmanReport; output: string }> {
  const report = join(mkdtempSync(join(tmpdir(), 'atb-newman-')), 'report.json');
  const args = ['run', collection, '-e', environment, '--env-var', `issuer=${stack.issuer}`, ...extra, '--reporters', 'cli,json', '--reporter-json-export', report];
  return new Promise((done, fail) => {
    const child = spawn(resolve('node_modules/.bin/newman'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? -1, report: JSON.parse(readFileSync(report, 'utf8')) as NewmanReport, output }));
  });
}

describe('the Postman collection, run by newman against the demo', () => {
  it(
    "passes its own tests: token, DAG list (etl_* only), trigger with a conf, the run read until success",
    async () => {
      const res = await newman([]);
      if (res.code !== 0) throw new Error(`newman exit ${res.code}\n${res.output}`);
      expect(res.report.run.stats.assertions.failed).toBe(0);
      expect(res.report.run.stats.assertions.total).toBe(5);
    },
    timeout,
  );

  it(
    'fails with a wrong client secret: the token request and every call through the proxy',
    async () => {
      const res = await newman(['--env-var', 'client_secret=wrong']);
      expect(res.code).not.toBe(0);
      const failed = res.report.run.failures.map((f) => f.error.test);
      expect(failed).toEqual(
        expect.arrayContaining([
          'the broker issues a Bearer token',
          'the proxy lists the DAGs, the one to trigger among them',
          'the run is created with the conf',
          'the run is readable and ended in success',
        ]),
      );
    },
    timeout,
  );
});
