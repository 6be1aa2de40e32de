import { request as httpRequest } from 'node:http';
import type { Broker } from '../helpers/broker-harness.js';
import { startBrokerBeforeStandIn, type RecordingUpstream, type StandInSetup } from '../helpers/recording-upstream.js';

/**
 * Requests that try to make Airflow read something other than what the proxy authorized. Each is refused before
 * anything is forwarded: the recording stand-in upstream must have received nothing.
 */

let setup: StandInSetup;
let upstream: RecordingUpstream;
let broker: Broker;
let token: string;

beforeAll(async () => {
  setup = await startBrokerBeforeStandIn();
  ({ upstream, broker, token } = setup);
});
afterAll(() => setup.close());
beforeEach(() => upstream.reset());

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** A raw HTTP/1.1 request: fetch cannot send a body with GET, nor choose every header. */
function send(method: string, path: string, options: { body?: string; headers?: Record<string, string>; auth?: boolean } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.auth !== false) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = String(Buffer.byteLength(options.body));
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${broker.url}/airflow/prod/api/v2${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode!, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

function expectRefused(answer: Answer, status = 400): void {
  expect(answer.status).toBe(status);
  expect(answer.body.error).toBe('invalid_request');
  expect(upstream.seen).toHaveLength(0);
}

describe('bearer tokens in the query string (RFC 6750 §2.3 is not supported)', () => {
  it.each([
    ['access-token-in-query', 'access_token'],
    ['access-token-in-query-encoded-underscore', 'access%5Ftoken'],
    ['access-token-in-query-encoded-letter', '%61ccess_token'],
    ['access-token-in-query-upper-case', 'ACCESS_TOKEN'],
  ])('%s', async (_name, param) => {
    expectRefused(await send('GET', `/dags/etl_daily?limit=1&${param}=${token}`));
  });

  it('access-token-in-query-without-authorization-header: still 400, and the token goes nowhere', async () => {
    expectRefused(await send('GET', `/dags/etl_daily?access_token=${token}`, { auth: false }));
  });
});

describe('method overrides in the query string', () => {
  it.each([
    ['method-override-query-_method', '_method=DELETE'],
    ['method-override-query-x-http-method-override', 'x-http-method-override=DELETE'],
    ['method-override-query-mixed-case', 'X-HTTP-Method-Override=DELETE'],
    ['method-override-query-encoded', '%5Fmethod=DELETE'],
    ['method-override-query-x-method-override', 'x-method-override=DELETE'],
  ])('%s', async (_name, query) => {
    expectRefused(await send('GET', `/dags/etl_daily?${query}`));
  });
});

describe('bodies on operations that take none', () => {
  it('body-on-get: a GET with a body is refused, not forwarded with it', async () => {
    expectRefused(await send('GET', '/dags/etl_daily', { body: '{"dag_id":"payroll_monthly"}' }));
  });

  it('body-on-delete: Airflow\'s DELETE operations take no body', async () => {
    expectRefused(await send('DELETE', '/variables/etl_x', { body: '{"key":"payroll_x"}' }));
  });

  it('body-on-bodyless-post: an operation without a request body refuses one', async () => {
    expectRefused(await send('POST', '/dags/etl_daily/favorite', { body: '{"dag_id":"payroll_monthly"}' }));
  });

  it('a GET without a body still passes', async () => {
    expect((await send('GET', '/dags/etl_daily')).status).toBe(200);
    expect(upstream.seen).toHaveLength(1);
  });
});

describe('bodies Airflow could read differently from the proxy', () => {
  it('duplicate-json-keys: the second dag_ids is not the one authorized', async () => {
    expectRefused(await send('POST', '/dags/~/dagRuns/list', { body: '{"dag_ids":["etl_daily"],"dag_ids":["payroll_monthly"]}' }));
  });

  it('duplicate-json-keys-escaped: "dag\\u005fids" is the same key', async () => {
    expectRefused(await send('POST', '/dags/~/dagRuns/list', { body: '{"dag_ids":["etl_daily"],"dag\\u005fids":["payroll_monthly"]}' }));
  });

  it('duplicate-json-keys-nested: duplicates at any depth', async () => {
    expectRefused(await send('POST', '/dags/etl_daily/dagRuns', { body: '{"logical_date":null,"conf":{"a":{"b":1,"b":2}}}' }));
  });

  it('non-finite-number: 1e999 never reaches Airflow', async () => {
    expectRefused(await send('POST', '/dags/etl_daily/dagRuns', { body: '{"logical_date":null,"conf":{"x":1e999}}' }));
  });

  it('deeply-nested-body: 100,000 nested arrays are a 400, never a 500 or forwarded', async () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    expectRefused(await send('POST', '/dags/etl_daily/dagRuns', { body: `{"logical_date":null,"conf":{"x":${deep}}}` }));
  });

  it('content-encoding-on-request: 415, whatever the encoding', async () => {
    const answer = await send('POST', '/dags/etl_daily/dagRuns', { body: '{"logical_date":null}', headers: { 'content-encoding': 'gzip' } });
    expectRefused(answer, 415);
  });

  it('a plain JSON body is forwarded as sent', async () => {
    const body = '{"logical_date":null,"conf":{"n":[1,2.5,-3e2],"s":"\\u00e9"}}';
    expect((await send('POST', '/dags/etl_daily/dagRuns', { body })).status).toBe(200);
    expect(upstream.seen[0]!.body.toString('utf8')).toBe(body);
  });
});

describe('repeated query parameters', () => {
  it('repeated-single-valued-query-parameter: dag_id_pattern twice is refused', async () => {
    expectRefused(await send('PATCH', '/dags?dag_id_pattern=etl_&dag_id_pattern=%25', { body: '{"is_paused":true}' }));
  });

  it('repeated-single-valued-query-parameter-encoded: the same name spelled two ways', async () => {
    expectRefused(await send('GET', '/dags/etl_daily/dagRuns?limit=1&%6Cimit=100'));
  });

  it('repeated-unknown-query-parameter: a name the operation does not declare may not repeat', async () => {
    expectRefused(await send('GET', '/dags/etl_daily?x=1&x=2'));
  });

  it('a parameter Airflow declares as an array stays repeatable', async () => {
    expect((await send('GET', '/dagStats?dag_ids=etl_daily&dag_ids=etl_hourly')).status).toBe(200);
    expect(upstream.seen[0]!.url).toBe('/api/v2/dagStats?dag_ids=etl_daily&dag_ids=etl_hourly');
  });
});
