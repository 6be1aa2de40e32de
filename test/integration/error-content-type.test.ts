import type { DevDirectory } from '../../scripts/dev-directory.js';
import { basic, PROD_AUDIENCE, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';

/**
 * Regression: error bodies were typed `application/json; charset=utf-8`, and airflowctl 0.1.5 reads an error body
 * only when the type is exactly `application/json` (as Airflow's own answers are): it then showed a bare
 * "Client error '403 Forbidden'" without the proxy's reason. JSON has no charset parameter (RFC 8259, section 11).
 * The real client is run in test/acceptance/clients-airflow3.test.ts.
 */

let directory: DevDirectory;
let broker: Broker;

beforeAll(async () => {
  directory = await startDirectory();
  // An upstream nobody listens on: every answer below is the broker's own, before any upstream call.
  process.env.ATB_TEST_UNUSED_PASSWORD = 'unused';
  broker = await startBroker(directory, {
    configure: (c) =>
      void (c.upstreams.prod = {
        audience: PROD_AUDIENCE,
        url: 'http://127.0.0.1:9',
        credentials: { mode: 'service-account', username: 'proxy', password: '${ATB_TEST_UNUSED_PASSWORD}' },
      }),
  });
});

afterAll(async () => {
  await broker?.close();
  await directory?.close();
});

describe('error-bodies-typed-with-a-charset-parameter', () => {
  it.each([
    ['the proxy without a token', () => fetch(`${broker.url}/airflow/prod/api/v2/dags`)],
    ['the proxy with a forged token', () => fetch(`${broker.url}/airflow/prod/api/v2/dags`, { headers: { authorization: 'Bearer eyJhbGciOiJub25lIn0.e30.' } })],
    ['the token endpoint with a wrong secret', () => fetch(`${broker.url}/oauth2/token`, { method: 'POST', headers: { authorization: basic('demo-etl', 'wrong'), 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' })],
  ])('%s: exactly application/json', async (_name, call) => {
    const res = await call();
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(((await res.json()) as { error: string }).error).toMatch(/^invalid_(token|client)$/);
  });

  it('a refused call: exactly application/json', async () => {
    const token = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('demo-etl', 'demo-etl-secret') });
    const res = await fetch(`${broker.url}/airflow/prod/api/v2/dags/payroll_monthly/dagRuns`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token.body.access_token as string}`, 'content-type': 'application/json' },
      body: '{"logical_date": null}',
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toBe('application/json');
  });
});
