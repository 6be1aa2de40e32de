import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { AirflowClient } from '../../src/airflow/airflow-client.js';
import { credentialsForUpstream } from '../../src/airflow/credentials/credentials-for-upstream.js';
import type { Caller } from '../../src/airflow/credentials/upstream-credentials.js';
import { configSchema } from '../../src/config/schema.js';
import { KeyStore } from '../../src/keys/key-store.js';
import type { Policy } from '../../src/policy/policy.js';

/** Which credential strategy an upstream gets, by `credentials.mode` and `api`, and what it sends. */

const BROKER = 'https://broker.example.com';

function upstream(api: 'v1' | 'v2', credentials: Record<string, unknown>) {
  process.env.ATB_TEST_CFU_PASSWORD = 'pa:ss';
  const config = configSchema.parse({
    issuer: BROKER,
    policy_file: './policy.yaml',
    directories: { corp: { issuer: 'https://login.example.com/realms/corp' } },
    upstreams: { prod: { audience: 'https://airflow.example.com', url: 'http://airflow:8080', api, credentials } },
  });
  return config.upstreams.prod!;
}

const caller: Caller = {
  subject: 'demo-etl',
  clientId: 'demo-etl',
  roles: ['etl-operator'],
  policy: { roles: new Map([['etl-operator', { airflowRole: 'user' }]]) } as unknown as Policy,
  claims: { sub: 'demo-etl', client_id: 'demo-etl' },
};

async function strategy(api: 'v1' | 'v2', credentials: Record<string, unknown>) {
  const up = upstream(api, credentials);
  const airflowKeys = new KeyStore({ dir: mkdtempSync(join(tmpdir(), 'atb-cfu-')), algorithm: 'ES256', maxTokenTtlMs: 3_600_000 });
  await airflowKeys.generate();
  const logins: string[] = [];
  const client = {
    async json(_method: string, path: string) {
      logins.push(path);
      return { status: 401, body: {} };
    },
  } as unknown as AirflowClient;
  return { credentials: credentialsForUpstream(up.api, up.credentials!, { client, airflowKeys, brokerIssuer: BROKER, now: Date.now }), logins, airflowKeys };
}

const serviceAccount = { mode: 'service-account', username: 'proxy', password: '${ATB_TEST_CFU_PASSWORD}' };

describe('the credential strategy of an upstream', () => {
  it('service-account on v1 (Airflow 2): HTTP Basic for the FAB user, no login', async () => {
    const { credentials, logins } = await strategy('v1', serviceAccount);
    expect(await credentials.authorization(caller)).toBe(`Basic ${Buffer.from('proxy:pa:ss').toString('base64')}`);
    expect(logins).toEqual([]);
  });

  it('service-account on v2 (Airflow 3): a login at /auth/token', async () => {
    const { credentials, logins } = await strategy('v2', serviceAccount);
    await expect(credentials.authorization(caller)).rejects.toMatchObject({ code: 'upstream_error' });
    expect(logins).toEqual(['/auth/token']);
  });

  it('trusted-jwks on v1: the token the companion auth backend requires (typ JWT, kid, iss, aud, sub, iat, nbf, exp, jti, fab_username, fab_roles)', async () => {
    const { credentials, airflowKeys } = await strategy('v1', { mode: 'trusted-jwks', identity: { auth_manager: 'fab' } });
    const jwt = (await credentials.authorization(caller)).slice('Bearer '.length);
    expect(decodeProtectedHeader(jwt)).toEqual({ alg: 'ES256', typ: 'JWT', kid: airflowKeys.requireSigningKey().kid });
    const claims = decodeJwt(jwt);
    // No jwt_issuer: the broker's own issuer, which the companion's `[token_broker] issuer` names.
    expect(claims).toMatchObject({ iss: BROKER, aud: 'apache-airflow', sub: 'demo-etl', fab_username: 'demo-etl', fab_roles: ['User'] });
    for (const claim of ['iat', 'nbf', 'exp']) expect(claims[claim]).toEqual(expect.any(Number));
    expect(claims.jti).toEqual(expect.any(String));
  });

  it('trusted-jwks: jwt_issuer, when set, is the iss', async () => {
    const { credentials } = await strategy('v1', { mode: 'trusted-jwks', jwt_issuer: 'https://airflow-trust.example.com', identity: { auth_manager: 'fab' } });
    expect(decodeJwt((await credentials.authorization(caller)).slice('Bearer '.length)).iss).toBe('https://airflow-trust.example.com');
  });
});
