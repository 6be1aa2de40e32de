import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculatePKCECodeChallenge, randomPKCECodeVerifier } from 'openid-client';
import { parse, stringify } from 'yaml';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { basic, EXAMPLE_POLICY, PROD_AUDIENCE, STAGING_AUDIENCE, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';
import { startLoginBroker } from '../helpers/login-broker.js';
import { loginAs, PersonBrowser } from '../helpers/person-browser.js';

/**
 * The broker's own authorization endpoint for `airflow-token-broker login` (RFC 6749 §4.1, RFC 7636 S256 only,
 * RFC 8252 loopback redirects, RFC 9207 `iss`) and its `authorization_code` grant: one attack, one test.
 */

const CLI = 'airflow-token-broker-cli';
const REDIRECT = 'http://127.0.0.1:50123/callback';

let directory: DevDirectory;
let broker: Broker;
let alice: PersonBrowser;
const etl = { authorization: basic('demo-etl', 'demo-etl-secret') };

beforeAll(async () => {
  directory = await startDirectory();
  // A session shorter than the role's token_ttl (10m), so the session's end is what bounds the token.
  broker = await startLoginBroker(directory, {
    configure: (c) => (c.introspection = { allowed_clients: ['demo-etl'] }),
    login: { session: { idle_timeout: '2m', absolute_timeout: '3m' } },
  });
  alice = new PersonBrowser();
  await loginAs(alice, broker.url, 'alice', 'alice-password');
});
afterAll(async () => {
  await broker.close();
  await directory.close();
});

interface Pkce {
  verifier: string;
  challenge: string;
}

async function pkce(): Promise<Pkce> {
  const verifier = randomPKCECodeVerifier();
  return { verifier, challenge: await calculatePKCECodeChallenge(verifier) };
}

/** `/oauth2/authorize` with a valid request for the CLI, changed by `change` (undefined removes a parameter). */
function authorizeUrl(p: Pkce, change: Record<string, string | undefined> = {}): string {
  const params: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: CLI,
    redirect_uri: REDIRECT,
    code_challenge: p.challenge,
    code_challenge_method: 'S256',
    state: 'st-1',
    resource: PROD_AUDIENCE,
    ...change,
  };
  const query = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined));
  return `${broker.url}/oauth2/authorize?${query}`;
}

/** The redirect an authorization request got: where to, and its query. */
async function authorize(browser: PersonBrowser, url: string): Promise<{ status: number; location: URL | undefined; headers: Headers; body: string }> {
  const res = await browser.request(url);
  const location = res.headers.get('location');
  return { status: res.status, location: location === null ? undefined : new URL(location, broker.url), headers: res.headers, body: await res.text() };
}

/** Alice's code for a fresh PKCE pair (and the request changed by `change`). */
async function codeFor(change: Record<string, string | undefined> = {}): Promise<{ code: string; pkce: Pkce }> {
  const p = await pkce();
  const { location } = await authorize(alice, authorizeUrl(p, change));
  const code = location?.searchParams.get('code');
  if (!code) throw new Error(`no code: ${location?.href}`);
  return { code, pkce: p };
}

function redeem(code: string, verifier: string | undefined, change: Record<string, string | undefined> = {}, headers: Record<string, string> = {}) {
  const params: Record<string, string | undefined> = {
    grant_type: 'authorization_code',
    code,
    client_id: CLI,
    redirect_uri: REDIRECT,
    code_verifier: verifier,
    resource: PROD_AUDIENCE,
    ...change,
  };
  return tokenRequest(broker, Object.fromEntries(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined)), headers);
}

async function active(token: string): Promise<boolean> {
  const answer = await fetch(`${broker.url}/oauth2/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...etl },
    body: new URLSearchParams({ token }),
  });
  return ((await answer.json()) as { active: boolean }).active;
}

/** An error sent back to the client's redirect URI, as RFC 6749 §4.1.2.1 and RFC 9207 say. */
function expectRedirectedError(answer: Awaited<ReturnType<typeof authorize>>, error: string, state: string | null = 'st-1') {
  expect(answer.status).toBe(302);
  expect(`${answer.location!.origin}${answer.location!.pathname}`).toBe(REDIRECT);
  expect(answer.location!.searchParams.get('error')).toBe(error);
  expect(answer.location!.searchParams.get('code')).toBeNull();
  expect(answer.location!.searchParams.get('state')).toBe(state);
  expect(answer.location!.searchParams.get('iss')).toBe(broker.url);
}

/** An error shown to the person: the redirect URI is not trusted, so nothing is sent there. */
function expectShownError(answer: Awaited<ReturnType<typeof authorize>>) {
  expect(answer.status).toBe(400);
  expect(answer.location).toBeUndefined();
  expect(JSON.parse(answer.body).error).toBe('invalid_request');
}

describe('the authorization endpoint', () => {
  it('issues a code to a logged-in person: sent to the loopback redirect with state and iss (RFC 9207)', async () => {
    const answer = await authorize(alice, authorizeUrl(await pkce()));
    expect(answer.status).toBe(302);
    expect(`${answer.location!.origin}${answer.location!.pathname}`).toBe(REDIRECT);
    expect(answer.location!.searchParams.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(answer.location!.searchParams.get('state')).toBe('st-1');
    expect(answer.location!.searchParams.get('iss')).toBe(broker.url);
  });

  it('not-logged-in: sent to the directory login, and back to the same authorization request after it', async () => {
    const bob = new PersonBrowser();
    const url = authorizeUrl(await pkce());
    const first = await authorize(bob, url);
    expect(first.status).toBe(302);
    expect(first.location!.href).toBe(`${broker.url}/login?return_to=${encodeURIComponent(url.slice(broker.url.length))}`);
    expect(first.location!.searchParams.get('code')).toBeNull();
    // The directory's login page, then the form posted; followed until the CLI's loopback address (not listening).
    const form = await bob.follow(first.location!.href);
    await form.res.text();
    const { url: landed } = await bob.follow(
      form.url,
      { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ username: 'alice', password: 'alice-password' }) },
      (next) => next.startsWith(REDIRECT),
    );
    // The login lands on the authorization request again, which now redirects to the CLI with a code.
    expect(landed.startsWith(REDIRECT)).toBe(true);
    expect(new URL(landed).searchParams.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('framing-denied: every answer forbids framing (CSP frame-ancestors none), errors included', async () => {
    for (const url of [authorizeUrl(await pkce()), authorizeUrl(await pkce(), { response_type: 'token' }), authorizeUrl(await pkce(), { client_id: 'evil' })]) {
      const { headers } = await authorize(alice, url);
      expect(headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
      expect(headers.get('x-frame-options')).toBe('DENY');
      expect(headers.get('cache-control')).toBe('no-store');
    }
  });

  it('authorize-by-post: 405 with Allow: GET, no code', async () => {
    const res = await alice.request(authorizeUrl(await pkce()), { method: 'POST' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
    expect(res.headers.get('location')).toBeNull();
  });

  it('unknown-client: shown to the person, never redirected', async () => {
    expectShownError(await authorize(alice, authorizeUrl(await pkce(), { client_id: 'evil-client' })));
    expectShownError(await authorize(alice, authorizeUrl(await pkce(), { client_id: undefined })));
  });

  it.each([
    ['redirect-uri-not-loopback', 'https://evil.example/callback'],
    ['redirect-uri-localhost', 'http://localhost:50123/callback'],
    ['redirect-uri-other-path', 'http://127.0.0.1:50123/elsewhere'],
    ['redirect-uri-without-port', 'http://127.0.0.1/callback'],
    ['redirect-uri-with-query', 'http://127.0.0.1:50123/callback?next=https://evil.example'],
    ['redirect-uri-userinfo', 'http://evil.example@127.0.0.1:50123/callback'],
    ['redirect-uri-absent', undefined],
  ])('%s: shown to the person, never redirected', async (_name, redirectUri) => {
    expectShownError(await authorize(alice, authorizeUrl(await pkce(), { redirect_uri: redirectUri })));
  });

  it('redirect-uri-repeated: shown, whichever copy a component would read', async () => {
    const url = `${authorizeUrl(await pkce())}&redirect_uri=${encodeURIComponent('https://evil.example/callback')}`;
    expectShownError(await authorize(alice, url));
  });

  it('redirect-uri-any-port: the port is the CLI\'s to choose (RFC 8252 §7.3), on IPv6 loopback too', async () => {
    for (const uri of ['http://127.0.0.1:61000/callback', 'http://[::1]:50123/callback']) {
      const answer = await authorize(alice, authorizeUrl(await pkce(), { redirect_uri: uri }));
      expect(answer.location!.href.startsWith(`${uri}?code=`)).toBe(true);
    }
  });

  it('response-type-token: unsupported_response_type, redirected with state and iss', async () => {
    expectRedirectedError(await authorize(alice, authorizeUrl(await pkce(), { response_type: 'token' })), 'unsupported_response_type');
    expectRedirectedError(await authorize(alice, authorizeUrl(await pkce(), { response_type: 'code id_token' })), 'unsupported_response_type');
  });

  it('pkce-absent: a request without code_challenge is refused', async () => {
    expectRedirectedError(await authorize(alice, authorizeUrl(await pkce(), { code_challenge: undefined, code_challenge_method: undefined })), 'invalid_request');
  });

  it('pkce-plain: code_challenge_method plain, or none (which means plain), is refused', async () => {
    const p = await pkce();
    expectRedirectedError(await authorize(alice, authorizeUrl(p, { code_challenge: p.verifier, code_challenge_method: 'plain' })), 'invalid_request');
    expectRedirectedError(await authorize(alice, authorizeUrl(p, { code_challenge_method: undefined })), 'invalid_request');
  });

  it('state-missing: allowed, and then no state comes back', async () => {
    const answer = await authorize(alice, authorizeUrl(await pkce(), { state: undefined }));
    expect(answer.location!.searchParams.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(answer.location!.searchParams.has('state')).toBe(false);
    expectRedirectedError(await authorize(alice, authorizeUrl(await pkce(), { state: undefined, response_type: 'token' })), 'unsupported_response_type', null);
  });

  it('resource-naming-no-deployment: invalid_target, and the admin API is not for the CLI login', async () => {
    expectRedirectedError(await authorize(alice, authorizeUrl(await pkce(), { resource: 'https://airflow.unknown.example' })), 'invalid_target');
    expectRedirectedError(await authorize(alice, authorizeUrl(await pkce(), { resource: `${broker.url}/admin` })), 'invalid_target');
  });

  it('the metadata names the authorization endpoint, S256 only, the iss parameter and the grant', async () => {
    const meta = (await (await fetch(`${broker.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(meta).toMatchObject({
      authorization_endpoint: `${broker.url}/oauth2/authorize`,
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
      airflow_cli_client_id: CLI,
    });
    expect(meta.grant_types_supported).toContain('authorization_code');
  });
});

describe('the authorization_code grant', () => {
  it('a code and its verifier give alice a token for the deployment, with her roles and the CLI as client', async () => {
    const { code, pkce: p } = await codeFor();
    const res = await redeem(code, p.verifier);
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('etl-operator');
    const claims = JSON.parse(Buffer.from((res.body.access_token as string).split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(claims).toMatchObject({ sub: 'alice', client_id: CLI, aud: PROD_AUDIENCE, scope: 'etl-operator' });
    expect(await active(res.body.access_token as string)).toBe(true);
  });

  it('token-outlives-session: a token from the CLI login never lives past the browser session it came from', async () => {
    const { code, pkce: p } = await codeFor();
    const res = await redeem(code, p.verifier);
    const exp = (JSON.parse(Buffer.from((res.body.access_token as string).split('.')[1]!, 'base64url').toString()) as { exp: number }).exp;
    const session = (await (await alice.request(`${broker.url}/session`)).json()) as { expires_at: string };
    expect(exp * 1000).toBeLessThanOrEqual(Date.parse(session.expires_at));
  });

  it('code-replay: the second use is invalid_grant, and the token of the first use is revoked (RFC 6749 §10.5)', async () => {
    const { code, pkce: p } = await codeFor();
    const first = await redeem(code, p.verifier);
    expect(first.status).toBe(200);
    const replay = await redeem(code, p.verifier);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
    expect(await active(first.body.access_token as string)).toBe(false);
  });

  it('pkce-verifier-missing: invalid_grant, and the code is spent', async () => {
    const { code, pkce: p } = await codeFor();
    const res = await redeem(code, undefined);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
    expect((await redeem(code, p.verifier)).body.error).toBe('invalid_grant');
  });

  it('pkce-wrong-verifier: invalid_grant', async () => {
    const { code } = await codeFor();
    const res = await redeem(code, randomPKCECodeVerifier());
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
  });

  it('pkce-plain-downgrade: the challenge itself sent as the verifier is invalid_grant', async () => {
    const { code, pkce: p } = await codeFor();
    expect((await redeem(code, p.challenge)).body.error).toBe('invalid_grant');
  });

  it('redirect-uri-mismatch: another port or path at the token endpoint than at the authorization endpoint', async () => {
    const a = await codeFor();
    expect((await redeem(a.code, a.pkce.verifier, { redirect_uri: 'http://127.0.0.1:50124/callback' })).body.error).toBe('invalid_grant');
    const b = await codeFor();
    expect((await redeem(b.code, b.pkce.verifier, { redirect_uri: undefined })).body.error).toBe('invalid_request');
  });

  it('code-for-another-client: an unknown public client is invalid_client; a confidential client cannot redeem it', async () => {
    const a = await codeFor();
    const unknown = await redeem(a.code, a.pkce.verifier, { client_id: 'other-cli' });
    expect(unknown.status).toBe(401);
    expect(unknown.body.error).toBe('invalid_client');
    const b = await codeFor();
    const confidential = await redeem(b.code, b.pkce.verifier, { client_id: undefined }, etl);
    expect(confidential.status).toBe(400);
    expect(confidential.body).not.toHaveProperty('access_token');
  });

  it('code-for-another-deployment: a token for staging from a code for prod is invalid_target', async () => {
    const { code, pkce: p } = await codeFor();
    const res = await redeem(code, p.verifier, { resource: STAGING_AUDIENCE });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_target');
  });

  it('code-unknown: a code never issued is invalid_grant', async () => {
    expect((await redeem('A'.repeat(43), (await pkce()).verifier)).body.error).toBe('invalid_grant');
  });

  it('code-store-down: 503 temporarily_unavailable with Retry-After at both endpoints, never a token nor the caller\'s fault', async () => {
    const { code, pkce: p } = await codeFor();
    const store = broker.services.sessionStore;
    const { take, set } = store;
    const down = () => Promise.reject(new Error('store is down'));
    try {
      store.take = down;
      const res = await redeem(code, p.verifier);
      expect(res.status).toBe(503);
      expect(res.body.error).toBe('temporarily_unavailable');
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      store.take = take;
      store.set = down;
      // A store that cannot write (the session's touch or the code): redirected, as RFC 6749 §4.1.2.1 allows.
      expectRedirectedError(await authorize(alice, authorizeUrl(await pkce())), 'temporarily_unavailable');
    } finally {
      store.take = take;
      store.set = set;
    }
    // The code was never taken: it still works once the store is back.
    expect((await redeem(code, p.verifier)).status).toBe(200);
  });

  it('public-client-revokes-only-its-tokens: the CLI client cannot revoke a service account\'s token', async () => {
    const service = await tokenRequest(broker, { grant_type: 'client_credentials' }, etl);
    const res = await fetch(`${broker.url}/oauth2/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: service.body.access_token as string, client_id: CLI }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('unauthorized_client');
    expect(await active(service.body.access_token as string)).toBe(true);
  });
});

describe('roles named at the authorization endpoint', () => {
  let twoRoles: Broker;
  let carol: PersonBrowser;
  beforeAll(async () => {
    // Alice's group also binds reporting-reader here, so she has two roles to choose from.
    const dir = mkdtempSync(join(tmpdir(), 'atb-policy-'));
    const policy = parse(readFileSync(EXAMPLE_POLICY, 'utf8')) as { bindings: unknown[] };
    policy.bindings.push({ role: 'reporting-reader', when: { groups: 'airflow-etl' } });
    writeFileSync(join(dir, 'policy.yaml'), stringify(policy));
    twoRoles = await startLoginBroker(directory, { policyFile: join(dir, 'policy.yaml') });
    carol = new PersonBrowser();
    await loginAs(carol, twoRoles.url, 'alice', 'alice-password');
  });
  afterAll(async () => twoRoles.close());

  async function scopedCode(scope: string): Promise<{ code: string; verifier: string }> {
    const p = await pkce();
    const res = await carol.request(authorizeUrl(p, { scope }).replace(broker.url, twoRoles.url));
    return { code: new URL(res.headers.get('location')!).searchParams.get('code')!, verifier: p.verifier };
  }

  const redeemAt = (code: string, verifier: string, scope: string | undefined) =>
    tokenRequest(twoRoles, { grant_type: 'authorization_code', code, client_id: CLI, redirect_uri: REDIRECT, code_verifier: verifier, resource: PROD_AUDIENCE, ...(scope && { scope }) });

  it('scope-widening-at-token-endpoint: a code for one role gives no token for more, nor for every role', async () => {
    const a = await scopedCode('etl-operator');
    expect((await redeemAt(a.code, a.verifier, 'etl-operator reporting-reader')).body.error).toBe('invalid_scope');
    const b = await scopedCode('etl-operator');
    expect((await redeemAt(b.code, b.verifier, undefined)).body.error).toBe('invalid_scope');
    const c = await scopedCode('etl-operator');
    const narrowed = await redeemAt(c.code, c.verifier, 'etl-operator');
    expect(narrowed.status).toBe(200);
    expect(narrowed.body.scope).toBe('etl-operator');
  });

  it('without a scope at the authorization endpoint, the token has every role the person is bound to', async () => {
    const p = await pkce();
    const res = await carol.request(authorizeUrl(p).replace(broker.url, twoRoles.url));
    const code = new URL(res.headers.get('location')!).searchParams.get('code')!;
    expect((await redeemAt(code, p.verifier, undefined)).body.scope).toBe('etl-operator reporting-reader');
  });
});

describe('codes per person', () => {
  let limited: Broker;
  let dave: PersonBrowser;
  beforeAll(async () => {
    limited = await startLoginBroker(directory, { configure: (c) => (c.rate_limits = { per_client: { requests: 3, per: '1m' } }) });
    dave = new PersonBrowser();
    await loginAs(dave, limited.url, 'alice', 'alice-password');
  });
  afterAll(async () => limited.close());

  it('code-flood: a person asking for codes faster than rate_limits.per_client gets temporarily_unavailable, not a code', async () => {
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await authorize(dave, authorizeUrl(await pkce()).replace(broker.url, limited.url)));
    expect(answers.slice(0, 3).every((a) => a.location?.searchParams.has('code'))).toBe(true);
    expect(answers[3]!.location!.searchParams.get('error')).toBe('temporarily_unavailable');
    expect(answers[3]!.location!.searchParams.get('iss')).toBe(limited.url);
  });
});

describe('without people login, or with the CLI login turned off', () => {
  let plain: Broker;
  let disabled: Broker;
  beforeAll(async () => {
    plain = await startBroker(directory);
    disabled = await startLoginBroker(directory, { login: { cli: { enabled: false } } });
  });
  afterAll(async () => {
    await plain.close();
    await disabled.close();
  });

  it('cli-login-disabled: people log in in the browser, but there is no authorization endpoint nor grant', async () => {
    const res = await fetch(`${disabled.url}/oauth2/authorize?response_type=code&client_id=${CLI}`, { redirect: 'manual' });
    expect(res.status).toBe(404);
    expect((await tokenRequest(disabled, { grant_type: 'authorization_code', code: 'x', client_id: CLI })).body.error).toBe('unsupported_grant_type');
    expect((await fetch(`${disabled.url}/login`, { redirect: 'manual' })).status).toBe(303);
  });

  it('no-login-configured: no authorization endpoint (404) and no authorization_code grant', async () => {
    const res = await fetch(`${plain.url}/oauth2/authorize?response_type=code&client_id=${CLI}`, { redirect: 'manual' });
    expect(res.status).toBe(404);
    const grant = await tokenRequest(plain, { grant_type: 'authorization_code', code: 'x', client_id: CLI });
    expect(grant.body.error).toBe('unsupported_grant_type');
    const meta = (await (await fetch(`${plain.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(meta).not.toHaveProperty('authorization_endpoint');
    expect(meta.response_types_supported).toEqual([]);
  });
});
