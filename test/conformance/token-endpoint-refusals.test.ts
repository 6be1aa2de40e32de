import type { DevDirectory } from '../../scripts/dev-directory.js';
import { basic, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';

/** One attack or mistake, one test: every refusal of the token endpoint is a standard RFC 6749 error. */

let directory: DevDirectory;
let broker: Broker;
const etl = { authorization: basic('demo-etl', 'demo-etl-secret') };

beforeAll(async () => {
  directory = await startDirectory({
    accounts: [
      { clientId: 'demo-etl', secret: 'demo-etl-secret', groups: ['airflow-etl'] },
      { clientId: 'svc-reporting', secret: 'svc-reporting-secret', groups: [] },
      { clientId: 'svc-unbound', secret: 'svc-unbound-secret', groups: ['nobody-binds-this'] },
      { clientId: 'svc-case', secret: 'svc-case-secret', groups: ['Airflow-ETL'] },
    ],
  });
  broker = await startBroker(directory);
});
afterAll(async () => {
  await broker.close();
  await directory.close();
});

function expectOAuthError(res: { status: number; body: Record<string, unknown>; headers: Headers }, status: number, error: string) {
  expect(res.status).toBe(status);
  expect(res.body.error).toBe(error);
  expect(typeof res.body.error_description).toBe('string');
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(JSON.stringify(res.body)).not.toMatch(/at \w+ \(|node_modules|Error:/);
}

describe('client authentication', () => {
  it('wrong-secret: invalid_client with a Basic challenge', async () => {
    const res = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('demo-etl', 'wrong') });
    expectOAuthError(res, 401, 'invalid_client');
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm="airflow-token-broker", error="invalid_client"/);
  });

  it('unknown-client: answered exactly like a wrong secret', async () => {
    const wrong = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('demo-etl', 'wrong') });
    const unknown = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('no-such-client', 'x') });
    expectOAuthError(unknown, 401, 'invalid_client');
    expect(unknown.body).toEqual(wrong.body);
    expect(unknown.headers.get('www-authenticate')).toBe(wrong.headers.get('www-authenticate'));
  });

  it('no-credentials: invalid_client', async () => {
    expectOAuthError(await tokenRequest(broker, { grant_type: 'client_credentials' }), 401, 'invalid_client');
  });

  it('bearer-instead-of-basic: invalid_client', async () => {
    expectOAuthError(await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: 'Bearer abc' }), 401, 'invalid_client');
  });

  it('two-auth-methods: invalid_request', async () => {
    const res = await tokenRequest(broker, { grant_type: 'client_credentials', client_id: 'demo-etl', client_secret: 'demo-etl-secret' }, etl);
    expectOAuthError(res, 400, 'invalid_request');
  });

  it('client-id-mismatch-between-header-and-body: invalid_request', async () => {
    expectOAuthError(await tokenRequest(broker, { grant_type: 'client_credentials', client_id: 'svc-reporting' }, etl), 400, 'invalid_request');
  });

  it('duplicate-authorization-header: invalid_request', async () => {
    const raw = await rawRequest('/oauth2/token', [
      ['Authorization', basic('svc-reporting', 'svc-reporting-secret')],
      ['Authorization', basic('demo-etl', 'demo-etl-secret')],
      ['Content-Type', 'application/x-www-form-urlencoded'],
    ], 'grant_type=client_credentials');
    expect(raw.status).toBe(400);
    expect(JSON.parse(raw.body).error).toBe('invalid_request');
  });
});

describe('scope and roles', () => {
  it('unbound-role-requested: invalid_scope', async () => {
    const res = await tokenRequest(broker, { grant_type: 'client_credentials', scope: 'etl-operator reporting-reader' }, etl);
    expectOAuthError(res, 400, 'invalid_scope');
    expect(res.body.error_description).toContain('reporting-reader');
  });

  it('unknown-role-requested: invalid_scope', async () => {
    expectOAuthError(await tokenRequest(broker, { grant_type: 'client_credentials', scope: 'admin' }, etl), 400, 'invalid_scope');
  });

  it('identity-bound-to-no-role: no token', async () => {
    const res = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('svc-unbound', 'svc-unbound-secret') });
    expectOAuthError(res, 400, 'invalid_scope');
  });

  it('group-differing-only-in-case: binds nothing', async () => {
    const res = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('svc-case', 'svc-case-secret') });
    expectOAuthError(res, 400, 'invalid_scope');
  });

  it('requested-subset: only the requested role', async () => {
    const res = await tokenRequest(broker, { grant_type: 'client_credentials', scope: 'etl-operator' }, etl);
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('etl-operator');
  });

  it('malformed-scope-with-double-space: invalid_scope', async () => {
    expectOAuthError(await tokenRequest(broker, { grant_type: 'client_credentials', scope: 'etl-operator  x' }, etl), 400, 'invalid_scope');
  });
});

describe('authorization_details narrowing never widens', () => {
  const ask = (details: unknown) => tokenRequest(broker, { grant_type: 'client_credentials', authorization_details: JSON.stringify(details) }, etl);

  it('dag-outside-role: invalid_authorization_details', async () => {
    expectOAuthError(await ask([{ type: 'airflow', dags: ['payroll_monthly'], actions: ['trigger'] }]), 400, 'invalid_authorization_details');
  });

  it('action-outside-role: invalid_authorization_details', async () => {
    expectOAuthError(await ask([{ type: 'airflow', dags: ['etl_daily'], actions: ['delete'] }]), 400, 'invalid_authorization_details');
  });

  it('wider-glob-than-role: invalid_authorization_details', async () => {
    expectOAuthError(await ask([{ type: 'airflow', dags: ['*'], actions: ['read'] }]), 400, 'invalid_authorization_details');
  });

  it('resource-kind-outside-role: invalid_authorization_details', async () => {
    expectOAuthError(await ask([{ type: 'airflow', connections: ['etl_db'], actions: ['read'] }]), 400, 'invalid_authorization_details');
  });

  it('unknown-type: invalid_authorization_details', async () => {
    expectOAuthError(await ask([{ type: 'payment_initiation', dags: ['etl_daily'], actions: ['read'] }]), 400, 'invalid_authorization_details');
  });

  it('unknown-field-that-could-widen: invalid_authorization_details', async () => {
    expectOAuthError(await ask([{ type: 'airflow', dags: ['etl_daily'], actions: ['read'], locations: ['https://x'] }]), 400, 'invalid_authorization_details');
  });

  it('not-json: invalid_authorization_details', async () => {
    const res = await tokenRequest(broker, { grant_type: 'client_credentials', authorization_details: '[{' }, etl);
    expectOAuthError(res, 400, 'invalid_authorization_details');
  });

  it('same-glob-as-role: allowed', async () => {
    const res = await ask([{ type: 'airflow', dags: ['etl_*'], actions: ['read'] }]);
    expect(res.status).toBe(200);
  });
});

describe('request shape', () => {
  it('get-at-token-endpoint: 405 with Allow: POST', async () => {
    const res = await fetch(`${broker.url}/oauth2/token?grant_type=client_credentials`, { headers: etl });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(((await res.json()) as Record<string, unknown>).error).toBe('invalid_request');
  });

  it('json-body: invalid_request', async () => {
    const res = await fetch(`${broker.url}/oauth2/token`, {
      method: 'POST',
      headers: { ...etl, 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'client_credentials' }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as Record<string, unknown>).error).toBe('invalid_request');
  });

  it('duplicate-parameter: invalid_request', async () => {
    const res = await fetch(`${broker.url}/oauth2/token`, {
      method: 'POST',
      headers: { ...etl, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&scope=etl-operator&scope=reporting-reader',
    });
    expect(res.status).toBe(400);
    expect((await res.json()) as Record<string, unknown>).toMatchObject({ error: 'invalid_request', error_description: 'parameter scope is repeated' });
  });

  it('oversized-body: 413 invalid_request', async () => {
    const res = await tokenRequest(broker, { grant_type: 'client_credentials', scope: 'x'.repeat(64 * 1024) }, etl);
    expect(res.status).toBe(413);
    expect(res.body.error).toBe('invalid_request');
  });

  it('missing-grant-type: invalid_request', async () => {
    expectOAuthError(await tokenRequest(broker, {}, etl), 400, 'invalid_request');
  });

  it('unsupported-grant-type: unsupported_grant_type', async () => {
    expectOAuthError(await tokenRequest(broker, { grant_type: 'password', username: 'a', password: 'b' }, etl), 400, 'unsupported_grant_type');
  });

  it('refresh-token-grant: unsupported_grant_type', async () => {
    expectOAuthError(await tokenRequest(broker, { grant_type: 'refresh_token', refresh_token: 'x' }, etl), 400, 'unsupported_grant_type');
  });

  it('security-headers: helmet is on, nothing advertises the stack', async () => {
    const res = await fetch(`${broker.url}/.well-known/oauth-authorization-server`);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-powered-by')).toBeNull();
  });

  it('unknown-path: JSON 404', async () => {
    const res = await fetch(`${broker.url}/nope`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as Record<string, unknown>).error).toBe('invalid_request');
  });
});

describe('audit of refusals', () => {
  it('records the refusal with its reason and no secret', async () => {
    await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('demo-etl', 'wrong-secret-xyz') });
    const record = broker.audit.records.filter((r) => r.outcome === 'refused').at(-1)!;
    expect(record).toMatchObject({ event: 'token_refused', client_id: 'demo-etl', reason: 'invalid_client' });
    expect(JSON.stringify(broker.audit.records)).not.toContain('wrong-secret-xyz');
  });
});

/** Writes exact bytes on a socket: fetch and http.request would merge or refuse the repeated header. */
async function rawRequest(path: string, headers: Array<[string, string]>, body: string): Promise<{ status: number; body: string }> {
  const { connect } = await import('node:net');
  const url = new URL(broker.url);
  const head = [`POST ${path} HTTP/1.1`, `Host: ${url.host}`, 'Connection: close', `Content-Length: ${Buffer.byteLength(body)}`, ...headers.map(([k, v]) => `${k}: ${v}`)];
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => socket.end(head.join('\r\n') + '\r\n\r\n' + body));
    let data = '';
    socket.on('data', (c) => (data += c));
    socket.on('error', reject);
    socket.on('close', () => {
      const [statusLine, ...rest] = data.split('\r\n');
      resolve({ status: Number(statusLine!.split(' ')[1]), body: rest.join('\r\n').split('\r\n\r\n').slice(1).join('') });
    });
  });
}
