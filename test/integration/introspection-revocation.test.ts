import type { DevDirectory } from '../../scripts/dev-directory.js';
import { basic, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';

let directory: DevDirectory;
let broker: Broker;
const etl = basic('demo-etl', 'demo-etl-secret');
const reporting = basic('svc-reporting', 'svc-reporting-secret');
const gateway = basic('svc-gateway', 'svc-gateway-secret');

beforeAll(async () => {
  directory = await startDirectory({
    accounts: [
      { clientId: 'demo-etl', secret: 'demo-etl-secret', groups: ['airflow-etl'] },
      { clientId: 'svc-reporting', secret: 'svc-reporting-secret', groups: [] },
      { clientId: 'svc-gateway', secret: 'svc-gateway-secret', groups: [] },
    ],
  });
  broker = await startBroker(directory, { configure: (c) => void (c.introspection = { allowed_clients: ['svc-gateway'] }) });
});
afterAll(async () => {
  await broker.close();
  await directory.close();
});

async function issue(authorization = etl): Promise<string> {
  const res = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization });
  expect(res.status).toBe(200);
  return res.body.access_token as string;
}

async function post(path: string, authorization: string | null, params: Record<string, string>) {
  const res = await fetch(`${broker.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(authorization ? { authorization } : {}) },
    body: new URLSearchParams(params),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}
const introspect = (token: string, authorization: string | null = etl) => post('/oauth2/introspect', authorization, { token });
const revoke = (token: string, authorization: string | null = etl) => post('/oauth2/revoke', authorization, { token });

describe('RFC 7662 introspection', () => {
  it('describes an active token to the client it was issued to', async () => {
    const res = await introspect(await issue());
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toMatchObject({ active: true, client_id: 'demo-etl', sub: 'demo-etl', scope: 'etl-operator', token_type: 'Bearer' });
  });

  it('requires the caller to authenticate', async () => {
    const res = await introspect(await issue(), null);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
  });

  it('refuses a caller with a wrong secret', async () => {
    expect((await introspect(await issue(), basic('demo-etl', 'nope'))).status).toBe(401);
  });

  it('foreign-client: another client sees exactly {"active": false}', async () => {
    const res = await introspect(await issue(), reporting);
    expect(res.body).toEqual({ active: false });
  });

  it('allowed introspector sees any token', async () => {
    expect((await introspect(await issue(), gateway)).body.active).toBe(true);
  });

  it('garbage: exactly {"active": false}', async () => {
    expect((await introspect('eyJhbGciOiJub25lIn0.e30.')).body).toEqual({ active: false });
  });

  it('tampered-payload: exactly {"active": false}', async () => {
    const [h, p, sig] = (await issue()).split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const tampered = [h, Buffer.from(JSON.stringify({ ...claims, scope: 'reporting-reader etl-operator' })).toString('base64url'), sig].join('.');
    expect((await introspect(tampered)).body).toEqual({ active: false });
  });
});

describe('RFC 7009 revocation', () => {
  it('revokes by jti: the token is then inactive', async () => {
    const token = await issue();
    const res = await revoke(token);
    expect(res.status).toBe(200);
    expect((await introspect(token)).body).toEqual({ active: false });
  });

  it('is idempotent and answers 200 for unknown tokens', async () => {
    const token = await issue();
    expect((await revoke(token)).status).toBe(200);
    expect((await revoke(token)).status).toBe(200);
    expect((await revoke('not-a-token')).status).toBe(200);
  });

  it('revoke-someone-elses-token: refused, token stays active', async () => {
    const token = await issue();
    const res = await revoke(token, reporting);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('unauthorized_client');
    expect((await introspect(token)).body.active).toBe(true);
  });

  it('requires client authentication', async () => {
    expect((await revoke(await issue(), null)).status).toBe(401);
  });

  it('requires the token parameter', async () => {
    const res = await post('/oauth2/revoke', etl, {});
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
  });

  it('survives a restart (persisted in the embedded store)', async () => {
    const token = await issue();
    await revoke(token);
    const dir = broker.dir;
    await broker.close();
    broker = await startBroker(directory, { dir, configure: (c) => void (c.introspection = { allowed_clients: ['svc-gateway'] }) });
    // Same keys dir, so the token's signature still verifies; only the revocation makes it inactive.
    expect((await introspect(await issue())).body.active).toBe(true);
    expect((await introspect(token)).body).toEqual({ active: false });
  });
});
