import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DEMO_ACCOUNTS, type DevDirectory } from '../../scripts/dev-directory.js';
import { apiVersions } from '../../src/airflow/api-versions.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { proxyMatrix } from '../fixtures/proxy-matrix.js';
import { startAirflow, type AirflowServer } from '../helpers/airflow-server.js';
import { basic, EXAMPLE_POLICY as EXAMPLE_POLICY_PATH, startBroker, startDirectory, STAGING_AUDIENCE, tokenRequest, serviceAccountUpstream, type Broker } from '../helpers/broker-harness.js';

/** The proxy in `service-account` mode in front of a real Airflow 3 (scripts/airflow/start.sh). */

const timeout = 240_000;
let airflow: AirflowServer;
let directory: DevDirectory;
let broker: Broker;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  airflow = await startAirflow();
  directory = await startDirectory();
  broker = await startBroker(directory, {
    configure: (c) => {
      c.upstreams.prod = serviceAccountUpstream(airflow.url);
    },
  });
  for (const account of DEMO_ACCOUNTS) {
    const res = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic(account.clientId, account.secret) });
    expect(res.status).toBe(200);
    tokens[account.clientId] = res.body.access_token as string;
  }
}, timeout);

afterAll(async () => {
  await broker?.close();
  await directory?.close();
  await airflow?.stop();
}, timeout);

async function call(client: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${broker.url}/airflow/prod/api/v2${path}`, {
    method,
    headers: { authorization: `Bearer ${tokens[client]}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

/** Airflow as its admin sees it, bypassing the proxy. */
async function asAdmin(path: string) {
  const login = await fetch(`${airflow.url}/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'admin-pass' }) });
  const { access_token } = (await login.json()) as { access_token: string };
  const res = await fetch(`${airflow.url}/api/v2${path}`, { headers: { authorization: `Bearer ${access_token}` } });
  return (await res.json()) as Record<string, unknown>;
}

const dagIds = (body: Record<string, unknown> | undefined, key = 'dags') => ((body?.[key] as Array<{ dag_id: string }>) ?? []).map((d) => d.dag_id).sort();

describe('role x operation matrix on a real Airflow', () => {
  it.each(proxyMatrix.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const res = await call(c.client, c.method, c.path, c.body);
    if (c.expect === 'deny') {
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ error: 'insufficient_scope', reason: c.reason });
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer .*error="insufficient_scope"/);
    } else if (c.airflowAnswers !== undefined) {
      expect(res.status).toBe(c.airflowAnswers);
    } else {
      expect(res.status).toBeLessThan(300);
    }
    const decision = broker.audit.decisions.at(-1)!;
    expect(decision).toMatchObject({ decision: c.expect === 'deny' ? 'deny' : 'allow', reason: c.reason, filtered: c.expect === 'filter', deployment: 'prod', client_id: c.client });
  });
});

describe('what the matrix means in Airflow', () => {
  it('demo-etl sees only etl_* DAGs, with a matching total', async () => {
    const res = await call('demo-etl', 'GET', '/dags');
    expect(dagIds(res.body)).toEqual(['etl_daily', 'etl_hourly']);
    expect(res.body!.total_entries).toBe(2);
    expect(dagIds(await asAdmin('/dags'))).toEqual(['etl_daily', 'etl_hourly', 'payroll_monthly', 'report_weekly']);
  });

  it('pagination stays correct over the filtered list', async () => {
    const page1 = await call('demo-etl', 'GET', '/dags?limit=1&offset=0&order_by=dag_id');
    const page2 = await call('demo-etl', 'GET', '/dags?limit=1&offset=1&order_by=dag_id');
    const page3 = await call('demo-etl', 'GET', '/dags?limit=1&offset=2&order_by=dag_id');
    expect([dagIds(page1.body), dagIds(page2.body), dagIds(page3.body)]).toEqual([['etl_daily'], ['etl_hourly'], []]);
    expect([page1.body!.total_entries, page2.body!.total_entries, page3.body!.total_entries]).toEqual([2, 2, 2]);
  });

  it('a dag_id_pattern wildcard cannot widen the list (ILIKE _ and %)', async () => {
    for (const pattern of ['%', '_', 'a', 'Y_M', '~']) {
      const res = await call('demo-etl', 'GET', `/dags?dag_id_pattern=${encodeURIComponent(pattern)}`);
      expect(dagIds(res.body).every((id) => id.startsWith('etl_'))).toBe(true);
    }
  });

  it('svc-reporting sees only report_* (and finance_daily, absent here)', async () => {
    expect(dagIds((await call('svc-reporting', 'GET', '/dags')).body)).toEqual(['report_weekly']);
  });

  it('demo-etl triggers etl_daily: the run exists in Airflow', async () => {
    const res = await call('demo-etl', 'POST', '/dags/etl_daily/dagRuns', { logical_date: null, dag_run_id: 'via-proxy-1' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ dag_id: 'etl_daily', dag_run_id: 'via-proxy-1', state: 'queued' });
    const runs = await asAdmin('/dags/etl_daily/dagRuns');
    expect((runs.dag_runs as Array<{ dag_run_id: string; triggering_user_name: string }>).find((r) => r.dag_run_id === 'via-proxy-1')).toMatchObject({
      triggering_user_name: 'proxy',
    });
  });

  it('a refused trigger never reaches Airflow', async () => {
    const res = await call('demo-etl', 'POST', '/dags/payroll_monthly/dagRuns', { logical_date: null, dag_run_id: 'must-not-exist' });
    expect(res.status).toBe(403);
    // The refusal says what was refused (issue #11), in `detail` too for Airflow's clients.
    expect(res.body).toMatchObject({ operation: 'trigger_dag_run', resource: 'dags', resource_id: 'payroll_monthly', action: 'trigger', detail: res.body!.error_description });
    const runs = await asAdmin('/dags/payroll_monthly/dagRuns');
    expect((runs.dag_runs as Array<{ dag_run_id: string }>).some((r) => r.dag_run_id === 'must-not-exist')).toBe(false);
  });

  it('runs across DAGs are filtered, for GET and for the batch body', async () => {
    await call('demo-etl', 'POST', '/dags/etl_hourly/dagRuns', { logical_date: null });
    const viaGet = await call('demo-etl', 'GET', '/dags/~/dagRuns');
    expect(dagIds(viaGet.body, 'dag_runs').length).toBeGreaterThan(0);
    expect(dagIds(viaGet.body, 'dag_runs').every((id) => id.startsWith('etl_'))).toBe(true);
    expect(viaGet.body!.total_entries).toBe((viaGet.body!.dag_runs as unknown[]).length);
    for (const dag_ids of [[], null, undefined]) {
      const res = await call('demo-etl', 'POST', '/dags/~/dagRuns/list', dag_ids === undefined ? {} : { dag_ids });
      expect(res.status).toBe(200);
      expect(dagIds(res.body, 'dag_runs').every((id) => id.startsWith('etl_'))).toBe(true);
    }
    // A rewritten body is sent as JSON even when the caller named no content type.
    const untyped = await fetch(`${broker.url}/airflow/prod/api/v2/dags/~/dagRuns/list`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens['demo-etl']}` },
      body: Buffer.from('{"dag_ids": []}'),
    });
    expect(untyped.status).toBe(200);
    const reporting = await call('svc-reporting', 'POST', '/dags/~/dagRuns/list', { dag_ids: [] });
    expect(reporting.body).toMatchObject({ total_entries: 0 });
  });

  it('variables: demo-etl creates and reads only etl_*', async () => {
    const all = await call('demo-etl', 'GET', '/variables');
    expect(((all.body!.variables as Array<{ key: string }>) ?? []).every((v) => v.key.startsWith('etl_'))).toBe(true);
    expect((await call('demo-etl', 'GET', '/variables/etl_watermark')).body).toMatchObject({ key: 'etl_watermark', value: '42' });
  });

  it('public operations are served without a token, as Airflow serves them (issue #11)', async () => {
    const direct = await fetch(`${airflow.url}/api/v2/version`);
    expect(direct.status).toBe(200); // Airflow itself asks for no credentials here
    for (const headers of [{}, { authorization: 'Bearer eyJhbGciOiJub25lIn0.e30.' }]) {
      const res = await fetch(`${broker.url}/airflow/prod/api/v2/version`, { headers });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual(await direct.clone().json());
      expect(broker.audit.decisions.at(-1)).toMatchObject({ decision: 'allow', reason: 'public-operation', operation: 'get_version' });
    }
    const health = await fetch(`${broker.url}/airflow/prod/api/v2/monitor/health`);
    expect(health.status).toBe(200);
    expect(Object.keys((await health.json()) as object)).toEqual(expect.arrayContaining(['metadatabase', 'scheduler']));
    // Everything else still needs a valid token.
    const dags = await fetch(`${broker.url}/airflow/prod/api/v2/dags`);
    expect(dags.status).toBe(401);
    expect(dags.headers.get('www-authenticate')).toBe('Bearer realm="airflow-token-broker"');
  });

  it('HEAD and methods without an operation answer 405 with Allow, as Airflow does, not a scope refusal', async () => {
    for (const method of ['HEAD', 'PUT']) {
      const direct = await fetch(`${airflow.url}/api/v2/dags`, { method });
      expect(direct.status).toBe(405);
      const res = await fetch(`${broker.url}/airflow/prod/api/v2/dags`, { method, headers: { authorization: `Bearer ${tokens['demo-etl']}` } });
      expect(res.status).toBe(405);
      // Starlette lists the first route's methods only; the proxy every method the path has.
      for (const allowed of direct.headers.get('allow')!.split(/,\s*/)) expect(res.headers.get('allow')).toContain(allowed);
      expect(res.headers.get('allow')).toBe('GET, PATCH');
    }
  });
});

describe('changes across DAGs', () => {
  it('PATCH /dags?dag_id_pattern= pauses or unpauses only the DAGs the token may pause', async () => {
    const store = broker.services.policies;
    const before = store.current();
    store.replace(parsePolicy('pause.yaml', readFileSync(EXAMPLE_POLICY_PATH, 'utf8').replace('actions: [read, trigger, clear]', 'actions: [read, trigger, clear, pause]')));
    try {
      // "_" is an ILIKE wildcard: at Airflow this pattern matches every DAG.
      const res = await call('demo-etl', 'PATCH', '/dags?dag_id_pattern=_&update_mask=is_paused', { is_paused: false });
      expect(res.status).toBe(200);
      expect(dagIds(res.body)).toEqual(['etl_daily', 'etl_hourly']);
      expect(res.body!.total_entries).toBe(2);
      const paused = Object.fromEntries(((await asAdmin('/dags')).dags as Array<{ dag_id: string; is_paused: boolean }>).map((d) => [d.dag_id, d.is_paused]));
      expect(paused).toEqual({ etl_daily: false, etl_hourly: false, payroll_monthly: true, report_weekly: true });
      expect((await call('demo-etl', 'PATCH', '/dags?dag_id_pattern=etl', { is_paused: true })).status).toBe(200);
    } finally {
      store.replace(before);
    }
    // Without the pause action the same request is refused outright.
    expect((await call('demo-etl', 'PATCH', '/dags?dag_id_pattern=_', { is_paused: false })).status).toBe(403);
  });
});

describe('deployments and mounts', () => {
  it('a token for staging is refused at prod', async () => {
    const staging = await tokenRequest(broker, { grant_type: 'client_credentials', resource: STAGING_AUDIENCE }, { authorization: basic('demo-etl', 'demo-etl-secret') });
    const res = await fetch(`${broker.url}/airflow/prod/api/v2/dags`, { headers: { authorization: `Bearer ${staging.body.access_token as string}` } });
    expect(res.status).toBe(401);
    expect((await res.json()) as Record<string, unknown>).toMatchObject({ error: 'invalid_token' });
  });

  it.each(['/airflow/prod/api/v1/dags', '/airflow/prod/execution/task-instances', '/airflow/prod/auth/token', '/airflow/prod/ui/dags', '/airflow/prod/docs'])(
    'never proxies %s',
    async (path) => {
      const res = await fetch(`${broker.url}${path}`, { headers: { authorization: `Bearer ${tokens['demo-etl']}` } });
      expect(res.status).toBe(404);
    },
  );

  // Issue #11 item 8: the proxy answers this path itself, with its rewrite of Airflow's document.
  it('never proxies /airflow/prod/openapi.json: the answer is the proxy\'s document, never Airflow\'s relayed', async () => {
    const res = await fetch(`${broker.url}/airflow/prod/openapi.json`, { headers: { authorization: `Bearer ${tokens['demo-etl']}` } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toMatch(/OAuth2PasswordBearer|HTTPBearer|\/auth\/token/);
    expect((JSON.parse(text) as { servers: unknown }).servers).toEqual([expect.objectContaining({ url: `${broker.url}/airflow/prod` })]);
  });

  it('never proxies Airflow login under /api/v2/auth', async () => {
    const res = await call('demo-etl', 'GET', '/auth/login');
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ reason: 'operation-not-proxied' });
  });

  it('unknown operations are denied', async () => {
    const res = await call('demo-etl', 'GET', '/dags/etl_daily/secretThing');
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ reason: 'unknown-operation' });
  });

  it('an unparseable body is refused, not ignored', async () => {
    const res = await fetch(`${broker.url}/airflow/prod/api/v2/variables`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens['demo-etl']}` },
      body: '{"key": "payroll_secret", "value": ',
    });
    expect(res.status).toBe(400);
  });

  it('a body sent without a content type is read as JSON (as FastAPI may) and authorized', async () => {
    const res = await fetch(`${broker.url}/airflow/prod/api/v2/variables`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens['demo-etl']}` },
      body: Buffer.from(JSON.stringify({ key: 'payroll_secret', value: 'x' })), // bytes: fetch adds no content type
    });
    expect(res.status).toBe(403);
  });

  it('a body under a non-JSON content type is refused', async () => {
    const res = await fetch(`${broker.url}/airflow/prod/api/v2/variables`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens['demo-etl']}`, 'content-type': 'text/plain' },
      body: JSON.stringify({ key: 'etl_x', value: 'x' }),
    });
    expect(res.status).toBe(400);
  });

  it('an +json content type is parsed and authorized', async () => {
    const res = await call('demo-etl', 'POST', '/variables', { key: 'payroll_secret', value: 'x' }, { 'content-type': 'application/merge-patch+json' });
    expect(res.status).toBe(403);
  });
});

describe('upstream reachability', () => {
  it('readyz-says-nothing-about-airflow: a real Airflow answers the probe, in /readyz and atb_upstream_up', async () => {
    broker.services.upstreamProbes.start();
    let prod: { status: string; error: string | null } | undefined;
    for (let i = 0; i < 100 && prod?.status !== 'up'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      prod = ((await (await fetch(`${broker.opsUrl}/readyz`)).json()) as { upstreams: Record<string, { status: string; error: string | null }> }).upstreams.prod;
    }
    expect(prod).toMatchObject({ status: 'up', error: null });
    expect(await (await fetch(`${broker.opsUrl}/metrics`)).text()).toMatch(/^atb_upstream_up\{deployment="prod"\} 1$/m);
  });
});

describe('live policy reload', () => {
  const policyFile = () => `${broker.dir}/policy.yaml`;
  const readyz = async () => (await (await fetch(`${broker.opsUrl}/readyz`)).json()) as { policy: { hash: string; last_reload_error: { problems: string[] } | null } };
  const waitFor = async (predicate: () => Promise<boolean>) => {
    for (let i = 0; i < 100; i++) {
      if (await predicate()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('condition not reached within 5 s');
  };

  beforeAll(() => broker.services.policyReloader.watch(50));

  it('a broken file keeps the last good policy enforcing, and says why in /readyz, a metric and the audit log', async () => {
    const good = broker.services.policies.current().hash;
    writeFileSync(policyFile(), readFileSync(policyFile(), 'utf8').replace('actions: [read, trigger, clear]', 'actions: [read, trigger, launch]'));
    await waitFor(async () => (await readyz()).policy.last_reload_error !== null);
    const status = await readyz();
    expect(status.policy.hash).toBe(good);
    expect(status.policy.last_reload_error!.problems.join('\n')).toMatch(/policy\.yaml:\d+:\d+ error: roles\.etl-operator\.allow\[0\]\.actions\[2\]: unknown action "launch"/);
    expect(await (await fetch(`${broker.opsUrl}/metrics`)).text()).toMatch(/^atb_policy_last_reload_ok 0$/m);
    expect(broker.audit.policies.at(-1)).toMatchObject({ event: 'policy_reload_refused', source: 'watch', old_hash: good });
    // Still the last good policy: etl_daily may be triggered, payroll_monthly may not.
    expect((await call('demo-etl', 'GET', '/dags/etl_daily')).status).toBe(200);
    expect((await call('demo-etl', 'GET', '/dags/payroll_monthly')).status).toBe(403);
  });

  it('a fixed file is swapped in atomically and audited with old and new hash', async () => {
    const before = broker.services.policies.current().hash;
    const text = readFileSync(EXAMPLE_POLICY_PATH, 'utf8').replace('dags: ["etl_*"]', 'dags: ["etl_*", "payroll_*"]');
    writeFileSync(policyFile(), text);
    await waitFor(async () => (await readyz()).policy.hash !== before);
    expect((await readyz()).policy.last_reload_error).toBeNull();
    expect(broker.audit.policies.at(-1)).toMatchObject({ event: 'policy_reloaded', source: 'watch', old_hash: before, new_hash: (await readyz()).policy.hash });
    // The same token, the new policy: payroll_monthly is readable now.
    expect((await call('demo-etl', 'GET', '/dags/payroll_monthly')).status).toBe(200);
    writeFileSync(policyFile(), readFileSync(EXAMPLE_POLICY_PATH, 'utf8'));
    await waitFor(async () => (await call('demo-etl', 'GET', '/dags/payroll_monthly')).status === 403);
  });
});

/**
 * `GET /airflow/prod/openapi.json`: the document this Airflow serves, as the proxy exposes it; then what "client
 * generators work" means: openapi-generator (the jar from Maven Central, scripts/openapi-generator/) validates it,
 * generates a Python client from the proxy's URL, and that client lists DAGs through the proxy with a broker token.
 */
interface OpenApiDocument {
  servers: Array<{ url: string }>;
  paths: Record<string, Record<string, { operationId: string; security?: unknown }>>;
  components: { securitySchemes: Record<string, { flows?: { clientCredentials?: { tokenUrl: string } } }> };
}

async function readDocument(authorization?: string) {
  const res = await fetch(`${broker.url}/airflow/prod/openapi.json`, { headers: authorization ? { authorization } : {} });
  return { res, doc: res.status === 200 ? ((await res.json()) as OpenApiDocument) : undefined };
}

const operationIds = (doc: OpenApiDocument) =>
  Object.values(doc.paths)
    .flatMap((item) => ['get', 'put', 'post', 'delete', 'patch'].map((m) => item[m]?.operationId))
    .filter((id) => id !== undefined)
    .sort();

describe('the OpenAPI document of a real Airflow 3 through the proxy', () => {
  it('without a token: every operation the catalog routes, as Airflow documents it, served through the proxy', async () => {
    const { res, doc } = await readDocument();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(doc!.servers).toEqual([expect.objectContaining({ url: `${broker.url}/airflow/prod` })]);
    expect(doc!.components.securitySchemes.OAuth2!.flows!.clientCredentials!.tokenUrl).toBe(`${broker.url}/oauth2/token`);
    const routed = apiVersions.v2.operations.filter((o) => o.access !== 'never').map((o) => o.name);
    expect(operationIds(doc!)).toEqual(routed.sort());
    // Each operation is Airflow's own, less Airflow's security requirement.
    const live = (await (await fetch(`${airflow.url}/openapi.json`)).json()) as OpenApiDocument;
    const { security: _airflows, ...getDags } = live.paths['/api/v2/dags']!.get!;
    expect(doc!.paths['/api/v2/dags']!.get).toEqual(getDags);
    // What the document says needs no token is served so through the proxy.
    expect(doc!.paths['/api/v2/version']!.get!.security).toEqual([]);
    expect((await fetch(`${doc!.servers[0]!.url}/api/v2/version`)).status).toBe(200);
    expect((await fetch(`${doc!.servers[0]!.url}/api/v2/dags`)).status).toBe(401);
  });

  it('HEAD answers as Airflow 3 does for its own document: 200, headers, no body', async () => {
    const airflows = await fetch(`${airflow.url}/openapi.json`, { method: 'HEAD' });
    const ours = await fetch(`${broker.url}/airflow/prod/openapi.json`, { method: 'HEAD' });
    expect([airflows.status, ours.status]).toEqual([200, 200]);
    expect(ours.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await ours.text()).toBe('');
  });

  it('with demo-etl\'s token: only what etl-operator may call for some resource', async () => {
    const { res, doc } = await readDocument(`Bearer ${tokens['demo-etl']}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('private, no-cache');
    const ids = operationIds(doc!);
    expect(ids).toEqual(expect.arrayContaining(['get_dags', 'trigger_dag_run', 'get_variable']));
    for (const refused of ['delete_dag', 'get_connections', 'get_pools', 'get_config']) expect(ids).not.toContain(refused);
    expect(broker.audit.decisions.at(-1)).toMatchObject({ path: '/openapi.json', decision: 'allow', client_id: 'demo-etl' });
  });

  it('openapi-document-token-for-other-deployment: 401 invalid_token, as on any proxied call', async () => {
    const staging = await tokenRequest(broker, { grant_type: 'client_credentials', resource: STAGING_AUDIENCE }, { authorization: basic('demo-etl', 'demo-etl-secret') });
    expect(staging.status).toBe(200);
    const { res } = await readDocument(`Bearer ${staging.body.access_token as string}`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
  });

  it(
    'openapi-generator validates the document, generates a Python client from the proxy\'s URL, and the client lists DAGs',
    async () => {
      const jar = execFileSync('scripts/openapi-generator/ensure-openapi-generator.sh', { encoding: 'utf8' }).trim().split('\n').pop()!;
      const out = mkdtempSync(join(tmpdir(), 'atb-openapi-client-'));
      // `generate` validates the document first and refuses an invalid one.
      await promisify(execFile)(
        'java',
        ['-jar', jar, 'generate', '-g', 'python', '-i', `${broker.url}/airflow/prod/openapi.json`, '-o', out, '--package-name', 'airflow_via_proxy',
          '--global-property', 'apis=DAG,models,supportingFiles,apiTests=false,modelTests=false,apiDocs=false,modelDocs=false'],
        { timeout: 180_000 },
      );
      // The Airflow venv has what the generated client needs (pydantic, urllib3, python-dateutil).
      const venv = execFileSync('scripts/airflow/ensure-venv.sh', { encoding: 'utf8' }).trim().split('\n').pop()!;
      const script = [
        'import json, os, airflow_via_proxy as client',
        // The host is the document's server: the deployment through the proxy.
        'config = client.Configuration(access_token=os.environ["TOKEN"])',
        'with client.ApiClient(config) as api:',
        '    dags = client.DAGApi(api).get_dags()',
        'print(json.dumps({"host": config.host, "total": dags.total_entries, "ids": sorted(d.dag_id for d in dags.dags)}))',
      ].join('\n');
      const { stdout } = await promisify(execFile)(join(venv, 'bin', 'python'), ['-c', script], { env: { ...process.env, PYTHONPATH: out, TOKEN: tokens['demo-etl']! }, timeout: 60_000 });
      expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual({ host: `${broker.url}/airflow/prod`, total: 2, ids: ['etl_daily', 'etl_hourly'] });
    },
    timeout,
  );
});
