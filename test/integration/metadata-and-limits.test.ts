import { Writable } from 'node:stream';
import * as oidc from 'openid-client';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { DEV_DIRECTORY_AUDIENCE } from '../../scripts/dev-directory.js';
import { createLogger } from '../../src/observability/logger.js';
import { basic, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';

let directory: DevDirectory;
beforeAll(async () => {
  directory = await startDirectory();
});
afterAll(async () => directory.close());

describe('RFC 8414 metadata', () => {
  let broker: Broker;
  beforeAll(async () => {
    broker = await startBroker(directory);
  });
  afterAll(async () => broker.close());

  it('describes the endpoints, grants and auth methods', async () => {
    const meta = (await (await fetch(`${broker.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(meta).toMatchObject({
      issuer: broker.url,
      token_endpoint: `${broker.url}/oauth2/token`,
      jwks_uri: `${broker.url}/oauth2/jwks`,
      introspection_endpoint: `${broker.url}/oauth2/introspect`,
      revocation_endpoint: `${broker.url}/oauth2/revoke`,
      grant_types_supported: ['client_credentials', 'urn:ietf:params:oauth:grant-type:token-exchange'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      scopes_supported: ['etl-operator', 'reporting-reader'],
      authorization_details_types_supported: ['airflow'],
    });
    const oidcPath = await (await fetch(`${broker.url}/.well-known/openid-configuration`)).json();
    expect(oidcPath).toEqual(meta);
  });

  it('host-header-injection: URLs never come from Host or X-Forwarded-*', async () => {
    const { request } = await import('node:http');
    const url = new URL(broker.url);
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(
        { host: url.hostname, port: url.port, path: '/.well-known/oauth-authorization-server', headers: { Host: 'evil.example', 'X-Forwarded-Host': 'evil.example', 'X-Forwarded-Proto': 'https' } },
        (res) => {
          let data = '';
          res.on('data', (c) => (data += c));
          res.on('end', () => resolve(data));
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(body).not.toContain('evil.example');
    expect(JSON.parse(body).token_endpoint).toBe(`${broker.url}/oauth2/token`);
  });

  it('is usable by a standard OAuth client (openid-client discovery + client credentials)', async () => {
    const config = await oidc.discovery(new URL(broker.url), 'demo-etl', undefined, oidc.ClientSecretBasic('demo-etl-secret'), {
      execute: [oidc.allowInsecureRequests],
    });
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'etl-operator' });
    expect(tokens.scope).toBe('etl-operator');
    const introspection = await oidc.tokenIntrospection(config, tokens.access_token);
    expect(introspection.active).toBe(true);
    await oidc.tokenRevocation(config, tokens.access_token);
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
  });
});

describe('rate limits', () => {
  let broker: Broker;
  beforeAll(async () => {
    broker = await startBroker(directory, {
      configure: (c) => void (c.rate_limits = { per_client: { requests: 3, per: '1m' }, per_ip: { requests: 6, per: '1m' } }),
    });
  });
  afterAll(async () => broker.close());

  it('per client: 429 temporarily_unavailable with Retry-After, even for wrong secrets', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('demo-etl', `guess-${i}`) })).status);
    expect(statuses).toEqual([401, 401, 401]);
    const limited = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('demo-etl', 'demo-etl-secret') });
    expect(limited.status).toBe(429);
    expect(limited.body.error).toBe('temporarily_unavailable');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('per address: other clients from the same address are limited too', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic(`client-${i}`, 'x') })).status);
    expect(statuses).toEqual([401, 401, 429]);
  });
});

describe('logs never carry tokens or secrets', () => {
  it('at trace level, across success and failure paths', async () => {
    let logged = '';
    const sink = new Writable({ write: (chunk, _enc, cb) => ((logged += chunk.toString()), cb()) });
    const broker = await startBroker(directory, { overrides: { logger: createLogger('trace', sink) } });
    try {
      const ok = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('demo-etl', 'demo-etl-secret') });
      await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('demo-etl', 'wrong-secret-123') });
      await tokenRequest(broker, { grant_type: 'client_credentials', client_id: 'svc-reporting', client_secret: 'posted-secret-456' });
      const subject = await directory.signAsDirectory({ sub: 'alice', aud: 'not-accepted', groups: ['airflow-etl'] });
      await tokenRequest(broker, { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: subject, subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' });
      const good = await directory.signAsDirectory({ sub: 'alice', aud: DEV_DIRECTORY_AUDIENCE, groups: ['airflow-etl'] });
      await tokenRequest(broker, { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: good, subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' });
      await fetch(`${broker.url}/oauth2/revoke`, {
        method: 'POST',
        headers: { authorization: basic('demo-etl', 'demo-etl-secret'), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: ok.body.access_token as string }),
      });
      expect(logged).toContain('"msg":"request"'); // the sink did receive the logs
      for (const secret of ['demo-etl-secret', 'wrong-secret-123', 'posted-secret-456', ok.body.access_token as string, subject, good]) {
        expect(logged).not.toContain(secret);
      }
      expect(logged).not.toMatch(/Basic [A-Za-z0-9+/=]{8,}/);
    } finally {
      await broker.close();
    }
  });
});
