import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { apiVersions } from '../../src/airflow/api-versions.js';
import { DEMO_ACCOUNTS, type DevDirectory } from '../../scripts/dev-directory.js';
import { startAirflow, type AirflowServer } from '../helpers/airflow-server.js';
import { basic, PROD_AUDIENCE, STAGING_AUDIENCE, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';

/**
 * `GET /airflow/prod/openapi.json` in front of a real Airflow 3 (scripts/airflow/start.sh): the document Airflow
 * serves, as the proxy exposes it; then what "client generators work" means: openapi-generator (the jar from Maven
 * Central, scripts/openapi-generator/ensure-openapi-generator.sh) validates it, generates a Python client from the
 * proxy's URL, and that client lists DAGs through the proxy with a broker token.
 */

const timeout = 240_000;
let airflow: AirflowServer;
let directory: DevDirectory;
let broker: Broker;
const tokens: Record<string, string> = {};
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

beforeAll(async () => {
  airflow = await startAirflow();
  directory = await startDirectory();
  process.env.ATB_TEST_AIRFLOW_PASSWORD = 'proxy-pass';
  broker = await startBroker(directory, {
    configure: (c) => {
      c.upstreams.prod = { audience: PROD_AUDIENCE, url: airflow.url, credentials: { mode: 'service-account', username: 'proxy', password: '${ATB_TEST_AIRFLOW_PASSWORD}' } };
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

interface Document {
  servers: Array<{ url: string }>;
  paths: Record<string, Record<string, { operationId: string; security?: unknown }>>;
  components: { securitySchemes: Record<string, { flows?: { clientCredentials?: { tokenUrl: string } } }> };
}

async function readDocument(authorization?: string) {
  const res = await fetch(`${broker.url}/airflow/prod/openapi.json`, { headers: authorization ? { authorization } : {} });
  return { res, doc: res.status === 200 ? ((await res.json()) as Document) : undefined };
}

const operationIds = (doc: Document) =>
  Object.values(doc.paths)
    .flatMap((item) => METHODS.map((m) => item[m]?.operationId))
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
    const live = (await (await fetch(`${airflow.url}/openapi.json`)).json()) as Document;
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
