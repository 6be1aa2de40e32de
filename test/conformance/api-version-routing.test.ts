import type { DevDirectory } from '../../scripts/dev-directory.js';
import { basic, PROD_AUDIENCE, STAGING_AUDIENCE, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';
import { RecordingUpstream } from '../helpers/recording-upstream.js';

/**
 * Each deployment is proxied under its own API version only (`upstreams.<name>.api`): a path of the other
 * version is not found, and nothing reaches Airflow. `prod` is Airflow 3 (`v2`), `staging` Airflow 2 (`v1`).
 */

let upstream: RecordingUpstream;
let directory: DevDirectory;
let broker: Broker;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  upstream = new RecordingUpstream();
  await upstream.start();
  directory = await startDirectory();
  process.env.ATB_TEST_STANDIN_PASSWORD = 'stand-in-pass';
  const credentials = { mode: 'service-account' as const, username: 'proxy', password: '${ATB_TEST_STANDIN_PASSWORD}' };
  const timeouts = { connect: '1s', headers: '1s', body: '1s' };
  broker = await startBroker(directory, {
    configure: (c) => {
      c.upstreams.prod = { audience: PROD_AUDIENCE, url: upstream.url, credentials, timeouts };
      c.upstreams.staging = { audience: STAGING_AUDIENCE, url: upstream.url, api: 'v1', credentials, timeouts };
    },
  });
  const auth = { authorization: basic('demo-etl', 'demo-etl-secret') };
  for (const [name, resource] of [['prod', PROD_AUDIENCE], ['staging', STAGING_AUDIENCE]] as const) {
    tokens[name] = (await tokenRequest(broker, { grant_type: 'client_credentials', resource }, auth)).body.access_token as string;
  }
});
afterAll(async () => {
  await broker.close();
  await directory.close();
  upstream.close();
});
beforeEach(() => upstream.reset());

const get = async (deployment: string, path: string) => {
  const res = await fetch(`${broker.url}/airflow/${deployment}${path}`, { headers: { authorization: `Bearer ${tokens[deployment]}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

it.each([
  ['v2-path-on-an-airflow-2-upstream', 'staging', '/api/v2/dags/etl_daily', 'only /api/v1 is proxied'],
  ['v1-path-on-an-airflow-3-upstream', 'prod', '/api/v1/dags/etl_daily', 'only /api/v2 is proxied'],
  ['v1-root-without-a-path', 'staging', '/api/v1', 'only /api/v1 is proxied'],
])('%s is not found and not forwarded', async (_, deployment, path, description) => {
  const answer = await get(deployment, path);
  expect(answer).toEqual({ status: 404, body: expect.objectContaining({ error: 'invalid_request', error_description: description }) });
  expect(upstream.seen).toHaveLength(0);
});

it('a v1 call on an Airflow 2 upstream is decided with the v1 catalog and forwarded under /api/v1', async () => {
  expect((await get('staging', '/api/v1/dags/etl_daily')).status).toBe(200);
  expect(upstream.seen.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /api/v1/dags/etl_daily']);
  upstream.reset();
  // get_dag_source names a file token in v1 (every DAG of the file): etl-operator may not read code anywhere.
  expect((await get('staging', '/api/v1/dagSources/token')).status).toBe(403);
  expect(upstream.seen).toHaveLength(0);
});
