import { resolve } from 'node:path';
import { SignJWT } from 'jose';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import type { DecisionAuditRecord, TokenAuditRecord } from '../../src/observability/audit-log.js';
import { basic, PROD_AUDIENCE, STAGING_AUDIENCE, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';

/**
 * A refused token is audited with why it was refused (a closed vocabulary, `token_rejection`), through the real
 * proxy, while the 401 on the wire stays the same whatever the reason. No Airflow runs: every call here is
 * refused before any upstream call.
 */

let directory: DevDirectory;
let broker: Broker;
let adminToken: string;

beforeAll(async () => {
  directory = await startDirectory({
    accounts: [
      { clientId: 'demo-etl', secret: 'demo-etl-secret', groups: ['airflow-etl'] },
      { clientId: 'svc-secadmin', secret: 'svc-secadmin-secret', groups: [] },
    ],
  });
  broker = await startBroker(directory, {
    policyFile: resolve('test/fixtures/policy/with-admin.yaml'),
    configure: (c) => {
      c.upstreams.prod = { audience: PROD_AUDIENCE, url: 'http://127.0.0.1:9', credentials: { mode: 'trusted-jwks' } };
    },
  });
  adminToken = await issue({ resource: `${broker.url}/admin` }, 'svc-secadmin', 'svc-secadmin-secret');
});
afterAll(async () => {
  await broker.close();
  await directory.close();
});

async function issue(params: Record<string, string> = {}, client = 'demo-etl', secret = 'demo-etl-secret'): Promise<string> {
  const res = await tokenRequest(broker, { grant_type: 'client_credentials', ...params }, { authorization: basic(client, secret) });
  expect(res.status).toBe(200);
  return res.body.access_token as string;
}

const now = () => Math.floor(Date.now() / 1000);

/** Revokes a token as its own client does (RFC 7009). */
async function revoke(token: string): Promise<void> {
  const res = await fetch(`${broker.url}/oauth2/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic('demo-etl', 'demo-etl-secret') },
    body: new URLSearchParams({ token }),
  });
  expect(res.status).toBe(200);
}

/** A token signed with the broker's own active key: valid unless the test changes something. */
async function signed(claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> {
  const key = broker.services.keys.signingKey()!;
  const at = now();
  const payload = { iss: broker.url, sub: 'demo-etl', aud: PROD_AUDIENCE, iat: at, nbf: at, exp: at + 300, jti: `t-${Math.random()}`, client_id: 'demo-etl', scope: 'etl-operator', ...claims };
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete (payload as Record<string, unknown>)[name];
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header }).sign(key.privateKey);
}

/** The claims of a token that expired ten minutes ago. */
const expiredClaims = () => ({ iat: now() - 900, nbf: now() - 900, exp: now() - 600 });

/** Calls the proxy; returns the wire answer and the decision record of that very request. */
async function proxyCall(authorization: string | undefined) {
  const res = await fetch(`${broker.url}/airflow/prod/api/v2/dags/etl_daily`, { headers: authorization === undefined ? {} : { authorization } });
  const requestId = res.headers.get('x-request-id');
  const body = await res.json();
  const record = broker.audit.decisions.find((d) => d.request_id === requestId);
  return { status: res.status, body, challenge: res.headers.get('www-authenticate'), record };
}

const GENERIC = { error: 'invalid_token', error_description: 'the access token is invalid or revoked' };
/** The one reason the wire tells apart (issue #11): the client may renew, and the token's signature verified. */
const EXPIRED = { error: 'invalid_token', error_description: 'the access token has expired: request a new one' };
/** What the proxy answers: the same, with Airflow's `detail` member repeating the description. */
const onTheWire = (rejection: string) => {
  const answer = rejection === 'expired' ? EXPIRED : GENERIC;
  return { body: { ...answer, detail: answer.error_description }, challenge: `Bearer realm="airflow-token-broker", error="invalid_token", error_description="${answer.error_description}"` };
};

describe('the audit names why a token was refused; the wire only says whether it expired', () => {
  const cases: Array<[string, () => Promise<string | undefined>]> = [
    ['not_bearer', async () => 'Basic ZGVtbzp4'],
    ['not_compact', async () => 'Bearer not-a-jwt'],
    ['not_compact', async () => `Bearer ${await issue()}==`],
    // Strictly compact, but no `alg` in its header: jose cannot read it as a JWS.
    ['malformed', async () => `Bearer ${Buffer.from('{"typ":"at+jwt"}').toString('base64url')}.${Buffer.from('{}').toString('base64url')}.c2ln`],
    ['bad_signature', async () => {
      const [h, p, sig] = (await issue()).split('.');
      return `Bearer ${h}.${p}.${sig!.slice(0, 10)}${sig![10] === 'A' ? 'B' : 'A'}${sig!.slice(11)}`;
    }],
    ['unknown_key', async () => `Bearer ${await signed({}, { kid: 'no-such-key' })}`],
    ['algorithm_not_allowed', async () => {
      const hs = await new SignJWT({ iss: broker.url, sub: 'demo-etl', aud: PROD_AUDIENCE, iat: now(), exp: now() + 60 })
        .setProtectedHeader({ alg: 'HS256', kid: broker.services.keys.signingKey()!.kid, typ: 'at+jwt' })
        .sign(new TextEncoder().encode('a-shared-secret-an-attacker-chose-32b'));
      return `Bearer ${hs}`;
    }],
    ['wrong_type', async () => `Bearer ${await signed({}, { typ: 'JWT' })}`],
    ['wrong_issuer', async () => `Bearer ${await signed({ iss: 'https://broker.elsewhere.example' })}`],
    ['wrong_audience', async () => `Bearer ${await signed({ aud: 'https://airflow.nowhere.example' })}`],
    ['other_deployment', async () => `Bearer ${await issue({ resource: STAGING_AUDIENCE })}`],
    ['expired', async () => `Bearer ${await signed(expiredClaims())}`],
    ['issued_in_future', async () => `Bearer ${await signed({ iat: now() + 600, nbf: now(), exp: now() + 900 })}`],
    ['not_yet_valid', async () => `Bearer ${await signed({ nbf: now() + 600, exp: now() + 900 })}`],
    ['lifetime_too_long', async () => `Bearer ${await signed({ exp: now() + 30 * 86400 })}`],
    ['claims_invalid', async () => `Bearer ${await signed({ jti: undefined })}`],
    ['revoked', async () => {
      const token = await issue();
      await revoke(token);
      return `Bearer ${token}`;
    }],
  ];

  it.each(cases)('%s', async (rejection, authorization) => {
    const res = await proxyCall(await authorization());
    expect(res.status).toBe(401);
    expect(res.body).toEqual(onTheWire(rejection).body);
    expect(res.challenge).toBe(onTheWire(rejection).challenge);
    expect(res.record).toMatchObject({ decision: 'deny', reason: 'invalid_token', token_rejection: rejection });
  });

  it('no_token', async () => {
    const res = await proxyCall(undefined);
    expect(res.status).toBe(401);
    expect(res.challenge).toBe('Bearer realm="airflow-token-broker"');
    expect(res.record).toMatchObject({ reason: 'invalid_token', token_rejection: 'no_token' });
  });

  it('an allowed or forbidden call carries no rejection', async () => {
    const res = await proxyCall(`Bearer ${await issue()}`);
    expect(res.status).not.toBe(401); // authenticated; what follows (no Airflow role, no Airflow) is not a token matter
    expect(res.record?.token_rejection).toBeUndefined();
  });

  it('a refused token names its client only when its signature verified', async () => {
    const expired = await proxyCall(`Bearer ${await signed(expiredClaims())}`);
    expect(expired.record).toMatchObject({ token_rejection: 'expired', client_id: 'demo-etl', sub: 'demo-etl' });
    const forged = await proxyCall(`Bearer ${await signed({}, { kid: 'no-such-key' })}`);
    expect(forged.record).toMatchObject({ token_rejection: 'unknown_key', client_id: undefined, sub: undefined });
  });

  it('the admin API\'s recent decisions show the rejection', async () => {
    const token = await issue();
    await revoke(token);
    const refused = await proxyCall(`Bearer ${token}`);
    const res = await fetch(`${broker.url}/admin/decisions?client_id=demo-etl&limit=5`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(res.status).toBe(200);
    const { decisions } = (await res.json()) as { decisions: DecisionAuditRecord[] };
    expect(decisions.find((d) => d.request_id === refused.record?.request_id)).toMatchObject({ token_rejection: 'revoked' });
  });

  it('introspection and revocation audit a refused token with its rejection', async () => {
    const forged = await signed({}, { kid: 'no-such-key' });
    for (const endpoint of ['introspect', 'revoke']) {
      const res = await fetch(`${broker.url}/oauth2/${endpoint}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic('demo-etl', 'demo-etl-secret') },
        body: new URLSearchParams({ token: forged }),
      });
      expect(res.status).toBe(200);
      const record = broker.audit.records.find((r: TokenAuditRecord) => r.request_id === res.headers.get('x-request-id'));
      expect(record).toMatchObject({ event: 'token_rejected', endpoint: endpoint === 'introspect' ? 'introspection' : 'revocation', outcome: 'refused', token_rejection: 'unknown_key', caller_client_id: 'demo-etl' });
    }
  });

  it('the admin API audits a refused admin token with its rejection', async () => {
    const res = await fetch(`${broker.url}/admin/policy`, { headers: { authorization: `Bearer ${await signed({ aud: `${broker.url}/admin`, ...expiredClaims() })}` } });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual(EXPIRED);
    const record = broker.audit.records.find((r: TokenAuditRecord) => r.request_id === res.headers.get('x-request-id'));
    expect(record).toMatchObject({ event: 'token_rejected', endpoint: 'admin', token_rejection: 'expired', client_id: 'demo-etl' });
  });
});
