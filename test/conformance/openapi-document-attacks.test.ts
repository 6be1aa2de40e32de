import { basic, STAGING_AUDIENCE, tokenRequest } from '../helpers/broker-harness.js';
import { useStandIn } from '../helpers/recording-upstream.js';

/**
 * `GET /airflow/<deployment>/openapi.json` with a token that must not be taken: refused as on any proxied call
 * (401 `invalid_token`), before Airflow is asked anything (the stand-in upstream received nothing).
 */

const setup = useStandIn();
const ETL = basic('demo-etl', 'demo-etl-secret');

const read = (headers: Record<string, string> = {}, method = 'GET') => fetch(`${setup.broker.url}/airflow/prod/openapi.json`, { method, headers });

async function expectRefusedToken(authorization: string): Promise<void> {
  const res = await read({ authorization });
  expect(res.status).toBe(401);
  expect(res.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
  expect(((await res.json()) as Record<string, unknown>).error).toBe('invalid_token');
  expect(setup.upstream.seen).toHaveLength(0);
}

describe('openapi document attacks', () => {
  it('openapi-document-invalid-token', () => expectRefusedToken('Bearer not.a.token'));

  it('openapi-document-not-bearer: HTTP Basic credentials are not a token', () => expectRefusedToken(ETL));

  it('openapi-document-token-for-other-deployment: a staging token does not read prod\'s document', async () => {
    const staging = await tokenRequest(setup.broker, { grant_type: 'client_credentials', resource: STAGING_AUDIENCE }, { authorization: ETL });
    expect(staging.status).toBe(200);
    await expectRefusedToken(`Bearer ${staging.body.access_token as string}`);
  });

  it('openapi-document-revoked-token', async () => {
    const issued = await tokenRequest(setup.broker, { grant_type: 'client_credentials' }, { authorization: ETL });
    const token = issued.body.access_token as string;
    const revoked = await fetch(`${setup.broker.url}/oauth2/revoke`, {
      method: 'POST',
      headers: { authorization: ETL, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }),
    });
    expect(revoked.status).toBe(200);
    await expectRefusedToken(`Bearer ${token}`);
  });

  it('openapi-document-other-method: 405 with Allow: GET, HEAD, Airflow not asked', async () => {
    const res = await read({ authorization: `Bearer ${setup.token}` }, 'POST');
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    expect(setup.upstream.seen).toHaveLength(0);
  });
});
