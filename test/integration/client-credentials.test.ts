import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { basic, PROD_AUDIENCE, STAGING_AUDIENCE, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';

let directory: DevDirectory;
let broker: Broker;

beforeAll(async () => {
  directory = await startDirectory();
  broker = await startBroker(directory);
});
afterAll(async () => {
  await broker.close();
  await directory.close();
});

async function verifyWithPublishedJwks(token: string, audience = PROD_AUDIENCE) {
  const jwks = createRemoteJWKSet(new URL(`${broker.url}/oauth2/jwks`));
  return jwtVerify(token, jwks, { issuer: broker.url, audience, typ: 'at+jwt' });
}

describe('client_credentials with a service account of a real OpenID provider', () => {
  it('issues a token carrying exactly the roles bound to the account', async () => {
    const res = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('demo-etl', 'demo-etl-secret') });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toMatchObject({ token_type: 'Bearer', scope: 'etl-operator', expires_in: 600 });
    expect(res.body).not.toHaveProperty('refresh_token');
    const { payload, protectedHeader } = await verifyWithPublishedJwks(res.body.access_token as string);
    expect(protectedHeader).toMatchObject({ typ: 'at+jwt', alg: 'ES256' });
    expect(protectedHeader.kid).toEqual(expect.any(String));
    expect(payload).toMatchObject({ iss: broker.url, aud: PROD_AUDIENCE, sub: 'demo-etl', client_id: 'demo-etl', scope: 'etl-operator' });
    expect(payload.exp! - payload.iat!).toBe(600);
    expect(payload.nbf).toBe(payload.iat);
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(payload).not.toHaveProperty('authorization_details');
  });

  it('accepts client_secret_post as well', async () => {
    const res = await tokenRequest(broker, { grant_type: 'client_credentials', client_id: 'svc-reporting', client_secret: 'svc-reporting-secret' });
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('reporting-reader');
    expect(res.body.expires_in).toBe(300); // the role sets no token_ttl: the 5 minute default
  });

  it('issues for the deployment named by resource, and only for known ones', async () => {
    const auth = { authorization: basic('demo-etl', 'demo-etl-secret') };
    const staging = await tokenRequest(broker, { grant_type: 'client_credentials', resource: STAGING_AUDIENCE }, auth);
    expect(staging.status).toBe(200);
    expect((await verifyWithPublishedJwks(staging.body.access_token as string, STAGING_AUDIENCE)).payload.aud).toBe(STAGING_AUDIENCE);
    const viaAudience = await tokenRequest(broker, { grant_type: 'client_credentials', audience: STAGING_AUDIENCE }, auth);
    expect(viaAudience.status).toBe(200);
    const unknown = await tokenRequest(broker, { grant_type: 'client_credentials', resource: 'https://evil.example' }, auth);
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toBe('invalid_target');
  });

  it('narrows with authorization_details and puts them in the token', async () => {
    const details = [{ type: 'airflow', dags: ['etl_daily'], actions: ['trigger'] }];
    const res = await tokenRequest(
      broker,
      { grant_type: 'client_credentials', authorization_details: JSON.stringify(details) },
      { authorization: basic('demo-etl', 'demo-etl-secret') },
    );
    expect(res.status).toBe(200);
    expect(res.body.authorization_details).toEqual(details);
    const { payload } = await verifyWithPublishedJwks(res.body.access_token as string);
    expect(payload.authorization_details).toEqual(details);
  });

  it('audits every issued token without the token itself', async () => {
    const res = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('demo-etl', 'demo-etl-secret') });
    const { jti } = decodeJwt(res.body.access_token as string);
    const record = broker.audit.records.find((r) => r.jti === jti);
    expect(record).toMatchObject({ event: 'token_issued', outcome: 'issued', client_id: 'demo-etl', sub: 'demo-etl', roles: ['etl-operator'], deployment: 'prod' });
    expect(record!.request_id).toEqual(expect.any(String));
    expect(JSON.stringify(broker.audit.records)).not.toContain(res.body.access_token as string);
    expect(JSON.stringify(broker.audit.records)).not.toContain('demo-etl-secret');
  });
});
