import { createServer as createTcpServer, connect, type Server as TcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT } from '../../src/cli/exit-codes.js';
import { PROD_AUDIENCE, startBroker, startDirectory, type Broker } from '../helpers/broker-harness.js';
import { RecordingUpstream, startBrokerBeforeStandIn, type StandInSetup } from '../helpers/recording-upstream.js';
import { runCli } from '../helpers/run-cli.js';
import type { DevDirectory } from '../../scripts/dev-directory.js';

/**
 * `run` and `wait` against the real broker and proxy: refusals, bad input and faults, each with its documented exit
 * code, and never a trigger sent twice. The stand-in Airflow (fault injection only) records what reached it; runs
 * that really run are in test/acceptance/demo-run-and-wait.test.ts.
 */

const secret = { AIRFLOW_TOKEN_BROKER_CLIENT_SECRET: 'demo-etl-secret' };
const triggers = (s: StandInSetup) => s.upstream.seen.filter((r) => r.method === 'POST' && r.url.endsWith('/dagRuns'));

describe('run and wait: refusals and bad input', () => {
  let setup: StandInSetup;
  const cli = (args: string[], env: Record<string, string> = secret) =>
    runCli([...args, '--issuer', setup.broker.url, '--client-id', 'demo-etl', '--insecure-http'], { env });

  beforeAll(async () => {
    setup = await startBrokerBeforeStandIn();
  });
  afterAll(async () => setup.close());
  beforeEach(() => setup.upstream.reset());

  it('the broker metadata names the proxied deployments and the default one, never Airflow\'s own URL', async () => {
    const meta = (await (await fetch(`${setup.broker.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(JSON.stringify(meta)).not.toContain(setup.upstream.url);
    // staging has no url: not proxied, so not listed.
    expect(meta.airflow_deployments).toEqual({ prod: { resource: PROD_AUDIENCE, url: `${setup.broker.url}/airflow/prod`, api: 'v2' } });
    expect(meta.default_airflow_deployment).toBe('prod');
  });

  it('run-conf-not-json: exit 2 before any token or trigger', async () => {
    const res = await cli(['run', 'etl_daily', '--conf', '{fail: true}']);
    expect(res.code).toBe(EXIT.badInput);
    expect(res.stderr).toMatch(/--conf: not JSON/);
    expect(res.stdout).toBe('');
    expect(setup.upstream.seen).toHaveLength(0);
  });

  it('run-conf-file: @file is read, and a JSON array is refused (conf is an object)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'atb-conf-'));
    writeFileSync(join(dir, 'conf.json'), '[1, 2]');
    const res = await cli(['run', 'etl_daily', '--conf', `@${join(dir, 'conf.json')}`]);
    expect(res.code).toBe(EXIT.badInput);
    expect(res.stderr).toMatch(/--conf: must be a JSON object/);
    const missing = await cli(['run', 'etl_daily', '--conf', `@${join(dir, 'absent.json')}`]);
    expect(missing.code).toBe(EXIT.badInput);
    expect(missing.stderr).toMatch(/--conf: cannot read/);
    expect(setup.upstream.seen).toHaveLength(0);
  });

  it('run-usage-errors: a missing DAG id, a bad duration or --timeout without --wait exit 2', async () => {
    expect((await cli(['run'])).code).toBe(EXIT.badInput);
    expect((await cli(['wait', 'etl_daily', 'r1', '--timeout', 'soon'])).code).toBe(EXIT.badInput);
    expect((await cli(['run', 'etl_daily', '--timeout', '10s'])).code).toBe(EXIT.badInput);
    expect((await cli(['run', 'etl_daily', '--logical-date', 'yesterday'])).code).toBe(EXIT.badInput);
    expect(setup.upstream.seen).toHaveLength(0);
  });

  it('run-wrong-secret: the broker refuses the credentials, exit 3, nothing triggered', async () => {
    const res = await cli(['run', 'etl_daily'], { AIRFLOW_TOKEN_BROKER_CLIENT_SECRET: 'wrong' });
    expect(res.code).toBe(EXIT.refused);
    expect(res.stderr).toContain('invalid_client');
    expect(setup.upstream.seen).toHaveLength(0);
  });

  it('run-no-secret: exit 2 naming the variable', async () => {
    const res = await cli(['run', 'etl_daily'], { AIRFLOW_TOKEN_BROKER_CLIENT_SECRET: '' });
    expect(res.code).toBe(EXIT.badInput);
    expect(res.stderr).toContain('AIRFLOW_TOKEN_BROKER_CLIENT_SECRET');
  });

  it('run-unknown-deployment: exit 2 listing the proxied deployments', async () => {
    const res = await cli(['run', 'etl_daily', '--deployment', 'staging']);
    expect(res.code).toBe(EXIT.badInput);
    expect(res.stderr).toContain('the broker proxies no deployment "staging" (it proxies: prod)');
    expect(setup.upstream.seen).toHaveLength(0);
  });

  it('run-dag-not-granted: the proxy refuses the trigger, exit 3 with the reason, Airflow never asked', async () => {
    const res = await cli(['run', 'payroll_monthly']);
    expect(res.code).toBe(EXIT.refused);
    expect(res.stderr).toMatch(/HTTP 403: insufficient_scope.*no-matching-grant/);
    expect(res.stdout).toBe('');
    expect(setup.upstream.seen).toHaveLength(0);
  });

  it('run-airflow-unreachable: the proxy answers 502, exit 5, and the trigger was sent once', async () => {
    setup.upstream.mode = 'drop';
    const res = await cli(['run', 'etl_daily']);
    expect(res.code).toBe(EXIT.unavailable);
    expect(res.stderr).toMatch(/HTTP 50[24]/);
    expect(triggers(setup)).toHaveLength(1);
  });

  it('wait-run-not-visible: Airflow answers 403 to the read, exit 3', async () => {
    setup.upstream.mode = 'forbid';
    const res = await cli(['wait', 'etl_daily', 'r1']);
    expect(res.code).toBe(EXIT.refused);
    expect(res.stderr).toMatch(/reading run r1 of etl_daily: HTTP 403/);
  });

  it('wait-proxy-hiccup: failing reads are retried (not the end of the wait) until the timeout', async () => {
    setup.upstream.mode = 'drop';
    const res = await cli(['wait', 'etl_daily', 'r1', '--timeout', '3s', '--poll-interval', '500ms']);
    expect(res.code).toBe(EXIT.timeout);
    expect(res.stderr).toMatch(/\(retrying\) reading run r1 of etl_daily: HTTP 502/);
    expect(setup.upstream.seen.length).toBeGreaterThan(1);
  });

  it('run-broker-unreachable: exit 5', async () => {
    const res = await runCli(['run', 'etl_daily', '--issuer', 'http://127.0.0.1:1', '--client-id', 'demo-etl', '--insecure-http'], { env: secret });
    expect(res.code).toBe(EXIT.unavailable);
    expect(res.stderr).toMatch(/cannot read the broker's metadata/);
  });
});

/**
 * A TCP relay between the CLI and the broker (the broker's issuer is the relay's address) that cuts the CLI's
 * connection once the answer to a trigger comes back: the trigger reached Airflow, its answer was lost.
 */
async function startAnswerCutter(target: () => number): Promise<{ url: string; server: TcpServer }> {
  const server = createTcpServer((client: Socket) => {
    const broker = connect(target(), '127.0.0.1');
    let cutNextAnswer = false;
    client.on('data', (chunk: Buffer) => {
      if (/^POST \S+\/dagRuns /.test(chunk.toString('latin1'))) cutNextAnswer = true;
      broker.write(chunk);
    });
    broker.on('data', (chunk: Buffer) => {
      if (!cutNextAnswer) return void client.write(chunk);
      client.destroy();
      broker.destroy();
    });
    const end = () => {
      client.destroy();
      broker.destroy();
    };
    client.on('error', end).on('close', end);
    broker.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('run never re-sends a trigger whose answer was lost', () => {
  let upstream: RecordingUpstream;
  let directory: DevDirectory;
  let broker: Broker;
  let cutter: { url: string; server: TcpServer };

  beforeAll(async () => {
    upstream = new RecordingUpstream();
    await upstream.start();
    directory = await startDirectory();
    cutter = await startAnswerCutter(() => Number(new URL(broker.url).port));
    process.env.ATB_TEST_STANDIN_PASSWORD = 'stand-in-pass';
    broker = await startBroker(directory, {
      configure: (c) => {
        c.issuer = cutter.url;
        c.upstreams.prod = { audience: PROD_AUDIENCE, url: upstream.url, credentials: { mode: 'service-account', username: 'proxy', password: '${ATB_TEST_STANDIN_PASSWORD}' } };
      },
    });
  });
  afterAll(async () => {
    await broker.close();
    await directory.close();
    upstream.close();
    cutter.server.close();
  });

  it('run-trigger-answer-lost: exit 5, one trigger at Airflow, and the way to retry safely', async () => {
    const res = await runCli(['run', 'etl_daily', '--wait', '--issuer', cutter.url, '--client-id', 'demo-etl', '--insecure-http'], { env: secret });
    expect(res.code).toBe(EXIT.unavailable);
    expect(res.stderr).toMatch(/the trigger's answer was lost .*not re-sent.*--run-id/);
    expect(res.stdout).toBe('');
    expect(upstream.seen.filter((r) => r.method === 'POST')).toHaveLength(1);
  });
});

describe('wait renews its token', () => {
  let setup: StandInSetup;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'atb-ttl-'));
    const { readFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'policy.yaml'), readFileSync('examples/policy.yaml', 'utf8').replace('token_ttl: 10m', 'token_ttl: 2s'));
    setup = await startBrokerBeforeStandIn({}, join(dir, 'policy.yaml'));
  });
  afterAll(async () => setup.close());

  it('wait-outlives-token: a wait longer than the token lifetime asks for new tokens before they expire', async () => {
    // The stand-in's run never ends (it has no state), so wait runs into its timeout.
    const res = await runCli(['wait', 'etl_daily', 'r1', '--timeout', '6s', '--poll-interval', '500ms', '--issuer', setup.broker.url, '--client-id', 'demo-etl', '--insecure-http'], { env: secret });
    expect(res.code).toBe(EXIT.timeout);
    const issued = setup.broker.audit.records.filter((r) => r.event === 'token_issued' && r.client_id === 'demo-etl');
    // One token per 1.6 s of a 6 s wait (2 s tokens renewed at four fifths of their life), plus the setup's own.
    expect(issued.length).toBeGreaterThanOrEqual(4);
    expect(issued.length).toBeLessThanOrEqual(7);
  });
});
