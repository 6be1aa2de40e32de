import { createServer, get, type IncomingHttpHeaders, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { apiVersions } from '../../src/airflow/api-versions.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { PolicyStore } from '../../src/policy/policy-store.js';
import type { ProxyAuthenticator } from '../../src/proxy/authenticate.js';
import type { Deployment } from '../../src/proxy/deployments.js';
import { OpenApiDocumentCache } from '../../src/proxy/openapi-document-cache.js';
import { serveOpenApiDocument, type OpenApiTrail } from '../../src/proxy/openapi-document-endpoint.js';
import type { AccessTokenClaims } from '../../src/tokens/access-token.js';
import { InvalidTokenError } from '../../src/tokens/access-token-verifier.js';
import { airflowOpenApiDocument } from '../helpers/airflow-openapi.js';

/**
 * The endpoint alone, on Airflow 3.3.2's real document: what is reused between readers and what is not. A
 * stand-in authenticator maps a token string to its claims (token verification is tested with the proxy).
 */

const policyWith = (actions: string) =>
  parsePolicy('policy.yaml', `version: 2\nroles:\n  etl:\n    allow:\n      - dags: ["etl_*"]\n        actions: [${actions}]\n`);
const policies = new PolicyStore(policyWith('read'));
const claims = (scope: string, details?: AccessTokenClaims['authorization_details']): AccessTokenClaims => ({
  iss: 'https://broker.example', sub: 'svc', aud: 'prod-aud', exp: 2e9, iat: 1e9, nbf: 1e9, jti: 'j', client_id: 'svc', scope, ...(details && { authorization_details: details }),
});
const tokens: Record<string, AccessTokenClaims> = {
  'Bearer etl': claims('etl'),
  'Bearer narrowed': claims('etl', [{ type: 'airflow', dags: ['etl_daily'], actions: ['read'] }]),
};
const authenticator: Pick<ProxyAuthenticator, 'verifiedToken'> = {
  async verifiedToken(authorization: string | undefined) {
    const found = authorization === undefined ? undefined : tokens[authorization];
    if (!found) throw new InvalidTokenError('ERR_NOT_BEARER');
    return { claims: found, roles: found.scope.split(' ') };
  },
};
const deployment = { name: 'prod', api: apiVersions.v2, audience: 'prod-aud', credentials: { authorization: async () => 'Bearer proxy' } } as unknown as Deployment;
let loads = 0;
const airflow = airflowOpenApiDocument('v2');
const serve = serveOpenApiDocument({
  issuer: 'https://broker.example/',
  prefix: '/airflow',
  tokenUrl: 'https://broker.example/oauth2/token',
  authenticator,
  policies,
  documents: new OpenApiDocumentCache(async () => (loads++, airflow), { lifetimeMs: 600_000, now: () => 0 }),
});

let server: Server;
let url: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    const trail: OpenApiTrail = { path: '' };
    serve(deployment, req, res, trail).catch((err: unknown) => res.writeHead(err instanceof InvalidTokenError ? 401 : 500).end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise((r) => server.close(r)));

async function operationIds(authorization?: string): Promise<string[]> {
  const res = await fetch(url, { headers: authorization ? { authorization } : {} });
  expect(res.status).toBe(200);
  const doc = (await res.json()) as { paths: Record<string, Record<string, { operationId: string }>> };
  return Object.values(doc.paths).flatMap((item) => Object.values(item).map((op) => op.operationId));
}

describe('the OpenAPI document endpoint', () => {
  it('Airflow is asked once for all readers; the server is the deployment through the proxy', async () => {
    const res = await fetch(url);
    expect(((await res.json()) as { servers: unknown }).servers).toEqual([expect.objectContaining({ url: 'https://broker.example/airflow/prod' })]);
    await operationIds('Bearer etl');
    expect(loads).toBe(1);
  });

  it('openapi-document-after-policy-change: the next document follows the policy in force, never a kept one', async () => {
    expect(await operationIds('Bearer etl')).not.toContain('trigger_dag_run');
    const before = policies.current();
    policies.replace(policyWith('read, trigger'));
    try {
      expect(await operationIds('Bearer etl')).toContain('trigger_dag_run');
    } finally {
      policies.replace(before);
    }
    expect(await operationIds('Bearer etl')).not.toContain('trigger_dag_run');
  });

  it('a narrowed token gets its own document, not the one of its scope', async () => {
    const full = await operationIds('Bearer etl');
    policies.replace(policyWith('read, trigger'));
    try {
      expect(await operationIds('Bearer etl')).toContain('trigger_dag_run');
      expect(await operationIds('Bearer narrowed')).not.toContain('trigger_dag_run');
      expect(await operationIds('Bearer narrowed')).toContain('get_dag');
    } finally {
      policies.replace(policyWith('read'));
    }
    expect(full).toContain('get_dag');
  });

  it('a token\'s document is private to it; the public one may be kept by caches', async () => {
    const mine = await fetch(url, { headers: { authorization: 'Bearer etl' } });
    const anyone = await fetch(url);
    expect([mine.headers.get('cache-control'), mine.headers.get('vary')]).toEqual(['private, no-cache', 'Authorization, Accept-Encoding']);
    expect([anyone.headers.get('cache-control'), anyone.headers.get('vary')]).toEqual(['public, max-age=300', 'Authorization, Accept-Encoding']);
    expect(await fetch(url, { headers: { authorization: 'Bearer unknown' } }).then((r) => r.status)).toBe(401);
  });

  it('compressed for a reader that accepts gzip, and only then', async () => {
    const raw = (acceptEncoding: string) =>
      new Promise<{ headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
        get(url, { headers: { 'accept-encoding': acceptEncoding } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        }).on('error', reject);
      });
    const plain = await raw('identity');
    const gzipped = await raw('br;q=1, gzip;q=0.5');
    expect([plain.headers['content-encoding'], gzipped.headers['content-encoding']]).toEqual([undefined, 'gzip']);
    expect(gunzipSync(gzipped.body).equals(plain.body)).toBe(true);
    expect(gzipped.body.length).toBeLessThan(plain.body.length / 4);
    expect((await raw('gzip;q=0, *')).headers['content-encoding']).toBeUndefined();
    expect(gzipped.headers.vary).toBe('Authorization, Accept-Encoding');
  });
});
