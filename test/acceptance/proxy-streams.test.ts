import { resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { request } from 'undici';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { airflowLogin, startAirflow, unpauseDag, type AirflowServer } from '../helpers/airflow-server.js';
import { basic, startBroker, startDirectory, tokenRequest, serviceAccountUpstream, type Broker } from '../helpers/broker-harness.js';

/**
 * Streams and compression through the proxy against a real Airflow 3 with a scheduler (issue #11, items 4 and 5):
 * `/wait` follows a run to its final state; Airflow compresses what it is asked compressed, and the proxy the
 * lists it filters.
 */

const timeout = 240_000;
let airflow: AirflowServer;
let directory: DevDirectory;
let broker: Broker;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  airflow = await startAirflow({ scheduler: true });
  directory = await startDirectory();
  broker = await startBroker(directory, {
    policyFile: resolve('test/fixtures/policy/all-dags-reader.yaml'),
    configure: (c) => {
      c.upstreams.prod = serviceAccountUpstream(airflow.url);
    },
  });
  for (const [client, secret] of [['demo-etl', 'demo-etl-secret'], ['svc-reporting', 'svc-reporting-secret']] as const) {
    const res = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic(client, secret) });
    expect(res.status).toBe(200);
    tokens[client] = res.body.access_token as string;
  }
}, timeout);

afterAll(async () => {
  await broker?.close();
  await directory?.close();
  await airflow?.stop();
}, timeout);

const proxied = (path: string) => `${broker.url}/airflow/prod/api/v2${path}`;

/** A GET through the proxy as it is on the wire (undici's `request` decodes nothing), and its JSON decoded. */
async function raw(client: string, path: string, headers: Record<string, string> = {}) {
  const res = await request(proxied(path), { headers: { authorization: `Bearer ${tokens[client]}`, ...headers } });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  const text = (res.headers['content-encoding'] === 'gzip' ? gunzipSync(bytes) : bytes).toString();
  return { status: res.statusCode, headers: res.headers, bytes: bytes.length, json: JSON.parse(text) as Record<string, unknown> };
}

it('wait-streams-to-the-final-state: a run triggered through the proxy is followed by /wait through the proxy to success', async () => {
  const login = await airflowLogin(airflow, 'admin', 'admin-pass');
  const { access_token } = (await login.json()) as { access_token: string };
  expect(await unpauseDag(airflow, `Bearer ${access_token}`, 'etl_daily')).toBe(200);
  const trigger = await fetch(proxied('/dags/etl_daily/dagRuns'), {
    method: 'POST',
    headers: { authorization: `Bearer ${tokens['demo-etl']}`, 'content-type': 'application/json' },
    body: JSON.stringify({ dag_run_id: 'waited-1', logical_date: null }),
  });
  expect(trigger.status).toBe(200);
  const wait = await fetch(proxied('/dags/etl_daily/dagRuns/waited-1/wait?interval=1'), {
    headers: { authorization: `Bearer ${tokens['demo-etl']}`, 'accept-encoding': 'gzip' },
  });
  expect(wait.status).toBe(200);
  expect(wait.headers.get('content-type')).toBe('application/x-ndjson');
  const lines = (await wait.text()).trimEnd().split('\n').map((l) => JSON.parse(l) as { state?: string; error?: string });
  expect(lines.length).toBeGreaterThan(1); // it streamed while the run was queued or running
  expect(lines.every((l) => l.error === undefined)).toBe(true);
  expect(lines.slice(0, -1).every((l) => l.state === 'queued' || l.state === 'running')).toBe(true);
  expect(lines.at(-1)).toMatchObject({ state: 'success' });
}, 200_000);

it('wait-results-leak-xcom-without-read-xcom: /wait for a token without read_xcom carries no results, though Airflow sends them to the proxy', async () => {
  // Runs after the run above has finished: /wait answers its final state at once.
  const path = '/dags/etl_daily/dagRuns/waited-1/wait?interval=1&result=extract';
  const login = await airflowLogin(airflow, 'proxy', 'proxy-pass');
  const { access_token } = (await login.json()) as { access_token: string };
  const direct = await (await fetch(`${airflow.url}/api/v2${path}`, { headers: { authorization: `Bearer ${access_token}` } })).text();
  expect(JSON.parse(direct.trimEnd().split('\n').at(-1)!)).toEqual({ state: 'success', results: { extract: 'extracted' } });
  const res = await fetch(proxied(path), { headers: { authorization: `Bearer ${tokens['demo-etl']}` } });
  expect(res.status).toBe(200);
  expect(JSON.parse((await res.text()).trimEnd().split('\n').at(-1)!)).toEqual({ state: 'success' });
});

it('dag-list-compressed: Airflow compresses a passed-through DAG list, the proxy a filtered one (sizes in the log)', async () => {
  const plain = await raw('svc-reporting', '/dags');
  const gzip = await raw('svc-reporting', '/dags', { 'accept-encoding': 'gzip' });
  expect(plain.headers['content-encoding']).toBeUndefined();
  expect(gzip.headers['content-encoding']).toBe('gzip');
  expect(gzip.headers.vary).toMatch(/accept-encoding/i);
  expect(gzip.json).toEqual(plain.json);
  expect(gzip.bytes).toBeLessThan(plain.bytes / 2);

  const filteredPlain = await raw('demo-etl', '/dags');
  const filteredGzip = await raw('demo-etl', '/dags', { 'accept-encoding': 'gzip, deflate, br' });
  expect(filteredGzip.headers['content-encoding']).toBe('gzip');
  expect(filteredGzip.headers.vary).toMatch(/accept-encoding/i);
  expect(filteredGzip.json).toEqual(filteredPlain.json);
  expect((filteredPlain.json.dags as Array<{ dag_id: string }>).map((d) => d.dag_id).sort()).toEqual(['etl_daily', 'etl_hourly']);
  expect(filteredGzip.bytes).toBeLessThan(filteredPlain.bytes / 2);
  process.stdout.write(
    `DAG list bytes through the proxy: passed through ${plain.bytes} -> ${gzip.bytes} gzip; filtered ${filteredPlain.bytes} -> ${filteredGzip.bytes} gzip\n`,
  );
});
