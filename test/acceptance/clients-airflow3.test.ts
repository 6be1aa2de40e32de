import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { airflowLogin, startAirflow, unpauseDag, type AirflowServer } from '../helpers/airflow-server.js';
import { basic, STAGING_AUDIENCE, startBroker, startDirectory, tokenRequest, serviceAccountUpstream, type Broker } from '../helpers/broker-harness.js';
import { brokerCliOnPath, clientsVenv, runClient } from '../helpers/python-clients.js';

/**
 * The clients app developers already use, through the proxy, against a real Airflow 3 with a scheduler: the
 * official `apache-airflow-client`, `airflowctl`, plain `requests` and curl, each run as the snippet files that
 * docs/app-developers.md shows (examples/python, examples/shell), in the pinned venv of scripts/clients/.
 */

const timeout = 300_000;
let venv: string;
let airflow: AirflowServer;
let directory: DevDirectory;
let broker: Broker;
/**
 * The same Airflow as a second deployment `staging` (prod stays the default), with tokens that live 6 s: for the
 * renewal of a token that expires mid-script, which must keep naming its deployment.
 */
let shortLived: Broker;
let adminAuthorization: string;
const etl = { id: 'demo-etl', secret: 'demo-etl-secret' };
const reporting = { id: 'svc-reporting', secret: 'svc-reporting-secret' };

beforeAll(async () => {
  venv = clientsVenv();
  airflow = await startAirflow({ scheduler: true });
  directory = await startDirectory();
  const upstream = serviceAccountUpstream(airflow.url);
  const policyFile = resolve('test/fixtures/policy/clients.yaml');
  broker = await startBroker(directory, { policyFile, configure: (c) => void (c.upstreams.prod = upstream) });
  shortLived = await startBroker(directory, {
    policyFile,
    configure: (c) => {
      c.upstreams.prod = upstream;
      c.upstreams.staging = { ...upstream, audience: STAGING_AUDIENCE };
      c.tokens = { default_ttl: '6s', max_ttl: '6s' };
    },
  });
  const login = await airflowLogin(airflow, 'admin', 'admin-pass');
  adminAuthorization = `Bearer ${((await login.json()) as { access_token: string }).access_token}`;
  // New DAGs are paused in Airflow: the scheduler runs a triggered run only once its DAG is unpaused.
  for (const dag of ['etl_daily', 'etl_hourly']) expect(await unpauseDag(airflow, adminAuthorization, dag)).toBe(200);
}, timeout);

afterAll(async () => {
  await shortLived?.close();
  await broker?.close();
  await directory?.close();
  await airflow?.stop();
}, timeout);

function envFor(account: { id: string; secret: string }, at: Broker = broker): Record<string, string> {
  return {
    AIRFLOW_TOKEN_BROKER_ISSUER: at.url,
    AIRFLOW_TOKEN_BROKER_CLIENT_ID: account.id,
    AIRFLOW_TOKEN_BROKER_CLIENT_SECRET: account.secret,
    AIRFLOW_TOKEN_BROKER_DEPLOYMENT: 'prod',
  };
}

/** Runs examples/python/<script> as `account`. */
function python(script: string, args: string[], account: { id: string; secret: string }, options: { at?: Broker; timeoutMs?: number } = {}) {
  return runClient(join(venv, 'bin', 'python'), [resolve('examples/python', script), ...args], { venv, env: envFor(account, options.at), timeoutMs: options.timeoutMs });
}

/** Runs examples/shell/<script> as `account`, with `airflow-token-broker` and the venv's clients on PATH. */
function shell(script: string, args: string[], account: { id: string; secret: string }, env: Record<string, string> = {}) {
  return runClient('sh', [resolve('examples/shell', script), ...args], { venv, path: [brokerCliOnPath()], env: { ...envFor(account), ...env } });
}

/** Fails with the program's own output when it did not exit with `code`. */
function expectExit(res: { code: number; stdout: string; stderr: string }, code: number) {
  if (res.code !== code) throw new Error(`exit code ${res.code}, expected ${code}\nstdout:\n${res.stdout}\nstderr:\n${res.stderr}`);
}

function lastJson(out: string): Record<string, unknown> {
  return JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

/** Airflow as its admin sees it, bypassing the proxy: resolves with the status and the JSON body. */
async function asAdmin(path: string) {
  const res = await fetch(`${airflow.url}/api/v2${path}`, { headers: { authorization: adminAuthorization } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('apache-airflow-client 3.3.2 with the recipe (examples/python/airflow_api.py)', () => {
  it('lists only the DAGs the token may see', async () => {
    const asEtl = await python('list_dags.py', [], etl);
    expectExit(asEtl, 0);
    expect(lastJson(asEtl.stdout)).toEqual({ dag_ids: ['etl_daily', 'etl_hourly'], total_entries: 2 });
    const asReporting = await python('list_dags.py', [], reporting);
    expect(lastJson(asReporting.stdout)).toEqual({ dag_ids: ['report_weekly'], total_entries: 1 });
    // Airflow itself has more.
    expect(((await asAdmin('/dags')).body.total_entries as number)).toBe(4);
  });

  it('pagination limits for DAG-restricted tokens: limit and offset page the permitted DAGs, total_entries counts them', async () => {
    const pages = await Promise.all(['0', '1', '2'].map((offset) => python('list_dags.py', ['1', offset], etl)));
    expect(pages.map((p) => lastJson(p.stdout))).toEqual([
      { dag_ids: ['etl_daily'], total_entries: 2 },
      { dag_ids: ['etl_hourly'], total_entries: 2 },
      { dag_ids: [], total_entries: 2 },
    ]);
  });

  it('pagination limits for DAG-restricted tokens: cursor pagination is refused with 400 invalid_request', async () => {
    const token = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic(etl.id, etl.secret) });
    const res = await fetch(`${broker.url}/airflow/prod/api/v2/dags/~/dagRuns?cursor=`, { headers: { authorization: `Bearer ${token.body.access_token as string}` } });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/cursor/) as unknown });
    // A DAG's own path is checked against the grant and answered by Airflow: its cursor pagination works.
    const ownDag = await fetch(`${broker.url}/airflow/prod/api/v2/dags/etl_daily/dagRuns?cursor=`, { headers: { authorization: `Bearer ${token.body.access_token as string}` } });
    expect(ownDag.status).toBe(200);
    expect(Object.keys((await ownDag.json()) as object)).toContain('next_cursor');
    // Airflow itself pages runs by cursor for an unrestricted caller.
    const direct = await fetch(`${airflow.url}/api/v2/dags/~/dagRuns?cursor=`, { headers: { authorization: adminAuthorization } });
    expect(direct.status).toBe(200);
    expect(Object.keys((await direct.json()) as object)).toContain('next_cursor');
  });

  it('triggers a run with a conf, waits for it to succeed and reads its task log', async () => {
    const res = await python('trigger_and_wait.py', ['etl_daily', '{"source": "clients-test"}'], etl, { timeoutMs: 180_000 });
    expectExit(res, 0);
    const out = lastJson(res.stdout) as { dag_run_id: string; state: string; conf: unknown; logs: Record<string, string> };
    expect(out).toMatchObject({ state: 'success', conf: { source: 'clients-test' } });
    // etl_daily's only task returns "extracted"; Airflow logs the returned value.
    expect(Object.keys(out.logs)).toEqual(['extract']);
    expect(out.logs.extract).toMatch(/extracted/);
    const run = await asAdmin(`/dags/etl_daily/dagRuns/${encodeURIComponent(out.dag_run_id)}`);
    expect(run.body).toMatchObject({ state: 'success', conf: { source: 'clients-test' } });
  }, 200_000);

  it('sets a variable the role may write', async () => {
    const res = await python('set_variable.py', ['etl_clients_test', 'first'], etl);
    expectExit(res, 0);
    expect(lastJson(res.stdout)).toEqual({ key: 'etl_clients_test', value: 'first' });
    expectExit(await python('set_variable.py', ['etl_clients_test', 'second'], etl), 0);
    expect((await asAdmin('/variables/etl_clients_test')).body).toMatchObject({ key: 'etl_clients_test', value: 'second' });
  });

  it("a refused variable write is the client's ApiException carrying the proxy's body, and nothing is written", async () => {
    const res = await python('set_variable.py', ['payroll_clients_test', 'x'], etl);
    expectExit(res, 3);
    expect(lastJson(res.stderr)).toMatchObject({ status: 403, body: { error: 'insufficient_scope' } });
    expect((await asAdmin('/variables/payroll_clients_test')).status).toBe(404);
  });

  it('a token that expires mid-script is renewed by the recipe for the same deployment, and reused while it is valid', async () => {
    const issuedBefore = shortLived.audit.records.filter((r) => r.event === 'token_issued').length;
    const decisionsBefore = shortLived.audit.decisions.length;
    // Tokens live 6 s, the recipe renews 1 s before expiry: 10 s of one call a second needs 2 or 3 tokens. The
    // deployment is not the default one: a renewal without `resource` would get a prod token, refused at staging.
    const res = await runClient(join(venv, 'bin', 'python'), [resolve('examples/python/renewal.py'), '10'], {
      venv,
      env: { ...envFor(etl, shortLived), AIRFLOW_TOKEN_BROKER_DEPLOYMENT: 'staging', AIRFLOW_TOKEN_BROKER_RESOURCE: STAGING_AUDIENCE, AIRFLOW_TOKEN_BROKER_LEEWAY: '1' },
    });
    expectExit(res, 0);
    const calls = res.stdout.trim().split(' ');
    expect(calls.length).toBeGreaterThanOrEqual(5);
    const issued = shortLived.audit.records.filter((r) => r.event === 'token_issued').slice(issuedBefore);
    expect(issued.length).toBeGreaterThanOrEqual(2);
    expect(issued.length).toBeLessThanOrEqual(3);
    expect(issued.every((r) => r.deployment === 'staging')).toBe(true);
    const decisions = shortLived.audit.decisions.slice(decisionsBefore);
    expect(decisions).toHaveLength(calls.length);
    expect(decisions.every((d) => d.deployment === 'staging' && d.decision === 'allow' && d.upstream_status === 200)).toBe(true);
  }, 60_000);
});

describe('airflowctl 0.1.5 (examples/shell/airflowctl.sh)', () => {
  it('lists the DAGs the token may see and triggers a run, with AIRFLOW_CLI_TOKEN', async () => {
    const home = mkdtempSync(join(tmpdir(), 'atb-airflowctl-'));
    const res = await shell('airflowctl.sh', ['etl_hourly'], etl, { AIRFLOW_HOME: home });
    expectExit(res, 0);
    const listed = res.stdout.split('\n').find((line) => line.startsWith('['))!;
    expect((JSON.parse(listed) as Array<{ dag_id: string }>).map((d) => d.dag_id)).toEqual(['etl_daily', 'etl_hourly']);
    const runId = /"dag_run_id": "([^"]+)"/.exec(res.stdout.slice(res.stdout.indexOf(listed) + listed.length))?.[1];
    expect(runId).toBeDefined();
    expect((await asAdmin(`/dags/etl_hourly/dagRuns/${encodeURIComponent(runId!)}`)).body).toMatchObject({ dag_id: 'etl_hourly', dag_run_id: runId });
    // `auth login --skip-keyring` recorded only where the API is: no token on disk.
    expect(JSON.parse(readFileSync(join(home, 'production.json'), 'utf8'))).toEqual({ api_url: `${broker.url}/airflow/prod` });

    // A refused trigger: airflowctl exits non-zero and prints the proxy's body, which it reads only from an answer
    // typed exactly `application/json` (as Airflow types its own).
    const token = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic(etl.id, etl.secret) });
    const airflowctl = (args: string[]) =>
      runClient(join(venv, 'bin', 'airflowctl'), args, { venv, env: { AIRFLOW_HOME: home, AIRFLOW_CLI_TOKEN: token.body.access_token as string, AIRFLOW_CLI_API_RETRIES: '1' } });
    const refused = await airflowctl(['dags', 'trigger', 'payroll_monthly']);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout + refused.stderr).toMatch(/Client error message: \{'reason': 'no-matching-grant'|Client error message: \{.*'error': 'insufficient_scope'/);
    // 0.1.5 parses --conf with dict(): every value is refused before any call (documented in docs/app-developers.md).
    const withConf = await airflowctl(['dags', 'trigger', 'etl_hourly', '--conf', '{"via": "airflowctl"}']);
    expect(withConf.code).toBe(2);
    expect(withConf.stderr).toMatch(/invalid dict value/);
  }, 90_000);
});

describe('plain requests and curl', () => {
  it('requests: a client-credentials token, the permitted DAGs, a trigger, and a refusal with its JSON body', async () => {
    const ok = await python('requests_example.py', ['etl_hourly'], etl);
    expectExit(ok, 0);
    const out = lastJson(ok.stdout) as { dag_ids: string[]; dag_run_id: string };
    expect(out.dag_ids).toEqual(['etl_daily', 'etl_hourly']);
    expect((await asAdmin(`/dags/etl_hourly/dagRuns/${encodeURIComponent(out.dag_run_id)}`)).body).toMatchObject({ conf: { via: 'requests' } });
    const refused = await python('requests_example.py', ['payroll_monthly'], etl);
    expectExit(refused, 3);
    expect(lastJson(refused.stderr)).toMatchObject({ status: 403, body: { error: 'insufficient_scope' } });
  });

  it('curl: the one-liner of the docs lists the permitted DAGs', async () => {
    const res = await shell('curl-list-dags.sh', [], etl);
    expectExit(res, 0);
    const body = JSON.parse(res.stdout) as { dags: Array<{ dag_id: string }>; total_entries: number };
    expect(body.dags.map((d) => d.dag_id)).toEqual(['etl_daily', 'etl_hourly']);
    expect(body.total_entries).toBe(2);
  });
});
