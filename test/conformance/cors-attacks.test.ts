import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load-config.js';
import { basic, PROD_AUDIENCE, startBroker, STAGING_AUDIENCE, type Broker } from '../helpers/broker-harness.js';
import { locatedProblems } from '../helpers/located-problems.js';
import { startBrokerBeforeStandIn, type RecordingUpstream, type StandInSetup } from '../helpers/recording-upstream.js';

/**
 * CORS for browser apps (issue #11 item 7): a web page on another origin may read the proxy's and the token
 * endpoint's answers only where the configuration allows its origin, exactly. The stand-in upstream records what
 * reached "Airflow" (a preflight: nothing) and plays an Airflow that sends CORS headers of its own.
 */

const APP = 'https://app.example.com';
let setup: StandInSetup;
let upstream: RecordingUpstream;
let broker: Broker;
let token: string;

beforeAll(async () => {
  setup = await startBrokerBeforeStandIn({}, undefined, 'v2', (c, upstreamUrl) => {
    c.upstreams.prod!.cors = { allowed_origins: [APP, 'http://localhost:5173'], allowed_methods: ['GET', 'POST', 'PATCH'] };
    // The same Airflow as a second deployment without CORS configured.
    c.upstreams.staging = { ...c.upstreams.prod!, audience: STAGING_AUDIENCE, url: upstreamUrl, cors: undefined };
    c.token_endpoint_cors = { allowed_origins: [APP] };
  });
  ({ upstream, broker, token } = setup);
});
afterAll(() => setup.close());
beforeEach(() => upstream.reset());

const api = (deployment = 'prod') => `${broker.url}/airflow/${deployment}/api/v2`;

function preflight(url: string, origin: string, method = 'GET', headers = 'authorization') {
  return fetch(url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers } });
}

/** `authorization: null` sends none. */
function get(path: string, origin: string | undefined, authorization: string | null = `Bearer ${token}`, deployment = 'prod') {
  return fetch(`${api(deployment)}${path}`, { headers: { ...(origin ? { origin } : {}), ...(authorization ? { authorization } : {}) } });
}

const corsHeaders = (res: Response) => [...res.headers.keys()].filter((name) => name.startsWith('access-control-'));

function expectNoCors(res: Response): void {
  expect(corsHeaders(res)).toEqual([]);
}

function expectAllowedFor(res: Response, origin: string): void {
  expect(res.headers.get('access-control-allow-origin')).toBe(origin);
  expect(res.headers.get('vary')).toMatch(/\bOrigin\b/);
}

describe('preflights are answered by the proxy, before authentication', () => {
  it('preflight-answered-with-401: a preflight carries no token, the proxy answers it itself', async () => {
    const res = await preflight(`${api()}/dags?limit=5`, APP, 'GET', 'authorization');
    expect(res.status).toBe(204);
    expectAllowedFor(res, APP);
    expect(res.headers.get('access-control-allow-methods')).toBe('GET, POST, PATCH');
    expect(res.headers.get('access-control-allow-headers')).toBe('authorization, content-type');
    expect(res.headers.get('access-control-max-age')).toBe('600');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(upstream.seen).toHaveLength(0);
  });

  it('preflight-method-not-allowed: DELETE is not among the allowed methods', async () => {
    const res = await preflight(`${api()}/dags/etl_daily`, APP, 'DELETE');
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'invalid_request', error_description: 'CORS preflight refused: method DELETE is not allowed', reason: 'cors-method-not-allowed' });
    expectNoCors(res);
    expect(upstream.seen).toHaveLength(0);
  });

  it('preflight-header-not-allowed: a header outside allowed_headers', async () => {
    const res = await preflight(`${api()}/dags`, APP, 'GET', 'authorization,x-airflow-impersonate');
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'invalid_request', reason: 'cors-header-not-allowed' });
    expectNoCors(res);
  });

  it('preflight-on-a-deployment-without-cors: not answered as a preflight', async () => {
    const res = await preflight(`${api('staging')}/dags`, APP);
    expect(res.status).not.toBe(204);
    expectNoCors(res);
  });
});

describe('origins are compared exactly', () => {
  it.each([
    ['origin-not-allowed', 'https://evil.example'],
    ['null-origin', 'null'],
    ['origin-suffix-trick', 'https://app.example.com.evil'],
    ['origin-suffix-trick-with-port', 'https://app.example.com:443.evil'],
    ['origin-prefix-trick', 'https://evilapp.example.com'],
    ['origin-truncated', 'https://app.example.co'],
    ['origin-other-scheme', 'http://app.example.com'],
    ['origin-other-port', 'https://app.example.com:8443'],
    ['origin-upper-case', 'https://APP.example.com'],
    ['origin-trailing-slash', 'https://app.example.com/'],
    ['two-origins-in-one-header', `${APP}, https://evil.example`],
  ])('%s: no CORS headers on the answer, the preflight refused', async (_name, origin) => {
    const answer = await get('/dags/etl_daily', origin);
    // CORS is no access control: the call itself is the token's business; only the browser's read is at stake.
    expect(answer.status).toBe(200);
    expectNoCors(answer);
    expect(answer.headers.get('vary')).toMatch(/\bOrigin\b/);
    const pre = await preflight(`${api()}/dags/etl_daily`, origin);
    expect(pre.status).toBe(403);
    expect(await pre.json()).toMatchObject({ error: 'invalid_request', reason: 'cors-origin-not-allowed' });
    expectNoCors(pre);
  });

  it('an allowed origin on a deployment without cors gets nothing either', async () => {
    const res = await get('/dags/etl_daily', APP, `Bearer ${token}`, 'staging');
    expectNoCors(res);
  });
});

describe('every answer to an allowed origin carries CORS headers, errors included', () => {
  it('success', async () => {
    const res = await get('/dags/etl_daily', APP);
    expect(res.status).toBe(200);
    expectAllowedFor(res, APP);
    expect(res.headers.get('access-control-expose-headers')).toBe('www-authenticate, retry-after, x-request-id, etag, allow');
  });

  it('cors-headers-dropped-on-401: the app can read why its token was refused', async () => {
    const res = await get('/dags/etl_daily', APP, null);
    expect(res.status).toBe(401);
    expectAllowedFor(res, APP);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
  });

  it('cors-headers-dropped-on-403', async () => {
    const res = await get('/dags/payroll_monthly', APP);
    expect(res.status).toBe(403);
    expectAllowedFor(res, APP);
    expect(await res.json()).toMatchObject({ error: 'insufficient_scope' });
  });

  it('cors-headers-dropped-on-502', async () => {
    upstream.mode = 'drop';
    const res = await get('/dags/etl_daily', APP);
    expect(res.status).toBe(502);
    expectAllowedFor(res, APP);
  });

  // The stand-in answers no list: the scan of a filtered list fails (a filtered list that succeeds is in the browser test).
  it('cors-headers-dropped-on-a-failed-list-scan', async () => {
    const res = await get('/dags', 'http://localhost:5173');
    expect(res.status).toBe(502);
    expectAllowedFor(res, 'http://localhost:5173');
  });
});

describe("Airflow's own CORS headers are never relayed", () => {
  beforeEach(() => {
    upstream.answerHeaders = {
      'access-control-allow-origin': '*',
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'GET, POST, PUT, PATCH, DELETE',
      'access-control-expose-headers': 'set-cookie',
      vary: 'Accept-Encoding',
    };
  });

  it('upstream-access-control-headers-relayed: a disallowed origin sees none of them', async () => {
    const res = await get('/dags/etl_daily', 'https://evil.example');
    expect(res.status).toBe(200);
    expectNoCors(res);
  });

  it('upstream-access-control-headers-relayed: an allowed origin sees only the proxy\'s', async () => {
    const res = await get('/dags/etl_daily', APP);
    expectAllowedFor(res, APP);
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(res.headers.get('access-control-allow-methods')).toBeNull();
    expect(res.headers.get('access-control-expose-headers')).not.toMatch(/set-cookie/);
  });

  it('upstream-vary-replaces-vary-origin: both stay', async () => {
    const res = await get('/dags/etl_daily', APP);
    expect(res.headers.get('vary')).toBe('Origin, Accept-Encoding');
  });
});

describe('the token endpoint', () => {
  const tokenUrl = () => `${broker.url}/oauth2/token`;
  const post = (origin: string, authorization = basic('demo-etl', 'demo-etl-secret')) =>
    fetch(tokenUrl(), { method: 'POST', headers: { origin, authorization, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });

  it('token-endpoint-preflight: answered for POST from an allowed origin', async () => {
    const res = await preflight(tokenUrl(), APP, 'POST', 'content-type');
    expect(res.status).toBe(204);
    expectAllowedFor(res, APP);
    expect(res.headers.get('access-control-allow-methods')).toBe('POST');
  });

  it('token-endpoint-preflight-method-not-allowed', async () => {
    const res = await preflight(tokenUrl(), APP, 'GET', '');
    expect(res.status).toBe(403);
    expectNoCors(res);
  });

  it('token-endpoint-answers-an-allowed-origin, errors included', async () => {
    const issued = await post(APP);
    expect(issued.status).toBe(200);
    expectAllowedFor(issued, APP);
    const refused = await post(APP, basic('demo-etl', 'wrong'));
    expect(refused.status).toBe(401);
    expectAllowedFor(refused, APP);
  });

  it.each([['token-endpoint-origin-not-allowed', 'https://evil.example'], ['token-endpoint-null-origin', 'null'], ['token-endpoint-origin-suffix-trick', `${APP}.evil`]])(
    '%s',
    async (_name, origin) => {
      expectNoCors(await post(origin));
      const pre = await preflight(tokenUrl(), origin, 'POST', '');
      expect(pre.status).toBe(403);
      expectNoCors(pre);
    },
  );

  it('token-endpoint-without-cors-configured: no CORS at all', async () => {
    const plain = await startBroker(setup.directory, { configure: (c) => void (c.upstreams.prod = { audience: PROD_AUDIENCE }) });
    try {
      const pre = await fetch(`${plain.url}/oauth2/token`, { method: 'OPTIONS', headers: { origin: APP, 'access-control-request-method': 'POST' } });
      expect(pre.status).toBe(405);
      expectNoCors(pre);
      const res = await fetch(`${plain.url}/oauth2/token`, {
        method: 'POST',
        headers: { origin: APP, authorization: basic('demo-etl', 'demo-etl-secret'), 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials',
      });
      expect(res.status).toBe(200);
      expectNoCors(res);
    } finally {
      await plain.close();
    }
  });
});

describe('configurations that make no sense are refused at load', () => {
  const dir = mkdtempSync(join(tmpdir(), 'atb-cors-config-'));
  const problemsWith = (cors: unknown, where: 'upstream' | 'token' = 'upstream') => {
    const file = join(dir, 'config.yaml');
    const config = {
      issuer: 'https://auth.example.com',
      policy_file: './policy.yaml',
      directories: { corp: { issuer: 'https://login.example.com/realms/corp' } },
      upstreams: { prod: { audience: 'https://airflow.example.com', ...(where === 'upstream' ? { cors } : {}) } },
      ...(where === 'token' ? { token_endpoint_cors: cors } : {}),
    };
    writeFileSync(file, stringify(config));
    return locatedProblems(() => loadConfig(file), `${file}:`).map((p) => p.replace(/^\d+:\d+ error: /, ''));
  };

  it.each(['upstream', 'token'] as const)('credentials-with-wildcard-origin (%s)', (where) => {
    const key = where === 'upstream' ? 'upstreams.prod.cors' : 'token_endpoint_cors';
    expect(problemsWith({ allowed_origins: ['*'], allow_credentials: true }, where)).toEqual([
      `${key}.allow_credentials: allow_credentials: true with allowed_origins ["*"] would let every web site act with the browser's credentials: list the origins`,
    ]);
  });

  it.each([
    ['origin-with-trailing-slash', 'https://app.example.com/', 'write "https://app.example.com"'],
    ['origin-with-path', 'https://app.example.com/app', 'write "https://app.example.com"'],
    ['origin-without-scheme', 'app.example.com', 'is not an origin: write scheme://host[:port]'],
    ['origin-in-upper-case', 'https://App.Example.com', 'write "https://app.example.com"'],
    ['origin-with-default-port', 'https://app.example.com:443', 'write "https://app.example.com"'],
    ['origin-with-user-info', 'https://user@app.example.com', 'write "https://app.example.com"'],
    ['origin-of-another-scheme', 'ftp://app.example.com', 'is not an http(s) origin'],
    ['null-origin-configured', 'null', 'never allowed'],
    ['wildcard-among-origins', '*', '"*" stands alone'],
    ['wildcard-subdomain', 'https://*.example.com', 'is not an origin'],
  ])('%s', (_name, origin, message) => {
    const problems = problemsWith({ allowed_origins: ['https://ok.example.com', origin] });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('upstreams.prod.cors.allowed_origins[1]: ');
    expect(problems[0]).toContain(message);
  });

  it('wildcard-header-name', () => {
    expect(problemsWith({ allowed_origins: ['https://ok.example.com'], allowed_headers: ['*'] })[0]).toContain('upstreams.prod.cors.allowed_headers[0]: a header name');
  });

  it('a wildcard without credentials is a valid choice: every origin, no credentials', () => {
    expect(() => problemsWith({ allowed_origins: ['*'] })).toThrow('loaded without problems');
  });
});
