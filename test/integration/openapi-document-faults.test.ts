import { useStandIn } from '../helpers/recording-upstream.js';

/**
 * `GET /airflow/<deployment>/openapi.json` when Airflow cannot give its document: faults a real Airflow cannot be
 * made to show on demand, against the stand-in upstream. The document itself is tested on Airflow's real one
 * (test/unit/openapi-document.test.ts) and through a real Airflow (test/acceptance/proxy-airflow.test.ts); tokens
 * it refuses in test/conformance/openapi-document-attacks.test.ts.
 */

const setup = useStandIn();
const read = (headers: Record<string, string> = {}) => fetch(`${setup.broker.url}/airflow/prod/openapi.json`, { headers });

describe('openapi document faults', () => {
  it('openapi-document-airflow-unreachable: 502 upstream_error that says so, no host named', async () => {
    setup.upstream.mode = 'drop';
    const res = await read();
    expect(res.status).toBe(502);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ error: 'upstream_error' });
    expect(JSON.stringify(body)).not.toMatch(/127\.0\.0\.1|ECONN|socket/);
  });

  it('openapi-document-airflow-slow: 504 upstream_timeout after the headers timeout', async () => {
    setup.upstream.mode = 'slow';
    const started = Date.now();
    const res = await read();
    expect(res.status).toBe(504);
    expect((await res.json()) as Record<string, unknown>).toMatchObject({ error: 'upstream_timeout' });
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it('openapi-document-not-a-document: Airflow answering something else is a 502, never relayed', async () => {
    // Asked without credentials first (refused by the stand-in), then with the proxy's for the caller.
    const res = await read({ authorization: `Bearer ${setup.token}` });
    expect(res.status).toBe(502);
    expect(((await res.json()) as Record<string, unknown>).error_description).toMatch(/OpenAPI/);
    const asked = setup.upstream.seen.filter((r) => r.url === '/openapi.json');
    expect(asked.map((r) => r.headers.authorization === undefined)).toEqual([true, false]);
    expect(asked[1]!.headers.authorization).not.toContain(setup.token);
  });

  it('openapi-document-needs-credentials-without-token: 502 that says to ask with a token', async () => {
    const res = await read();
    expect(res.status).toBe(502);
    expect(((await res.json()) as Record<string, unknown>).error_description).toMatch(/HTTP 401.*access token/);
    expect(setup.upstream.seen.filter((r) => r.url === '/openapi.json').every((r) => r.headers.authorization === undefined)).toBe(true);
  });
});
