import type { IncomingMessage } from 'node:http';
import type { TokenService } from '../../../src/broker/token-service.js';
import type { DirectoryIdentity } from '../../../src/directory/directory.js';
import { OAuthError } from '../../../src/errors/oauth-error.js';
import { Logins } from '../../../src/login/logins.js';
import { SessionCaller } from '../../../src/proxy/session-caller.js';
import { MemoryExpiringStore } from '../../../src/sessions/memory-expiring-store.js';
import { fakeDirectoryLogin } from '../../helpers/fake-directory-login.js';

/** The proxy's session step on its own: which requests use the session, and the token it mints for them. */

const directory = fakeDirectoryLogin();

const ISSUER = 'https://broker.example';
const PROD = { name: 'prod', audience: 'https://airflow.prod' };
const STAGING = { name: 'staging', audience: 'https://airflow.staging' };
let clock = 1_000_000_000_000;
const now = () => clock;

interface Issued {
  identity: DirectoryIdentity;
  params: ReadonlyMap<string, string>;
}

function setup(options: { refuse?: OAuthError } = {}) {
  const issued: Issued[] = [];
  const tokens = {
    issue: async (identity: DirectoryIdentity, params: ReadonlyMap<string, string>) => {
      if (options.refuse) throw options.refuse;
      issued.push({ identity, params });
      const iat = Math.floor(clock / 1000);
      return { response: { access_token: `token-${issued.length}` }, claims: { iat, exp: iat + 600 } };
    },
  } as unknown as TokenService;
  const logins = new Logins({ issuer: ISSUER, directory, store: new MemoryExpiringStore({ maxEntries: 100, now }), timeouts: { idleMs: 3_600_000, absoluteMs: 8 * 3_600_000 }, now, embeddable: (d) => d === 'prod' });
  return { issued, logins, caller: new SessionCaller(logins, tokens, ISSUER, now) };
}

async function loggedIn(logins: Logins, returnTo = '/console'): Promise<{ cookie: string; csrf: string }> {
  const started = await logins.start(returnTo);
  const finished = await logins.finish(req('GET', started.cookies.map((c) => c.split(';')[0]).join('; ')), '/login/callback?code=c&state=s');
  const cookie = finished.cookies.filter((c) => !/Max-Age=0/.test(c)).map((c) => c.split(';')[0]).join('; ');
  const session = await logins.fromRequest(req('GET', cookie));
  return { cookie, csrf: session!.csrfToken };
}

function req(method: string, cookie: string, headers: Record<string, string> = {}): IncomingMessage {
  return { method, headers: { cookie, ...headers } } as unknown as IncomingMessage;
}

describe('SessionCaller', () => {
  it('session-token-minted-for-the-deployment: through TokenService.issue with the deployment as resource, bounded by the session', async () => {
    const { issued, logins, caller } = setup();
    const { cookie } = await loggedIn(logins);
    expect(await caller.authorization(req('GET', cookie), PROD)).toBe('Bearer token-1');
    expect(issued).toHaveLength(1);
    expect(issued[0]!.params.get('resource')).toBe(PROD.audience);
    expect(issued[0]!.identity.subject).toBe('alice');
    // A token never outlives the session: its absolute end is the identity's expiry (TokenService's notAfter).
    expect(issued[0]!.identity.expiresAt).toBe(Math.floor((clock + 8 * 3_600_000) / 1000));
  });

  it('session-token-reused until shortly before it expires, one per deployment', async () => {
    const { issued, logins, caller } = setup();
    const { cookie } = await loggedIn(logins);
    await caller.authorization(req('GET', cookie), PROD);
    expect(await caller.authorization(req('GET', cookie), PROD)).toBe('Bearer token-1');
    expect(await caller.authorization(req('GET', cookie), STAGING)).toBe('Bearer token-2');
    clock += 580_000; // 20 s left of the first token's 600
    expect(await caller.authorization(req('GET', cookie), PROD)).toBe('Bearer token-3');
    expect(issued).toHaveLength(3);
  });

  it('embedded-session-on-another-deployment is refused: the embed session serves its own deployment only', async () => {
    const { logins, caller } = setup();
    const { cookie } = await loggedIn(logins, '/console/prod?login=popup');
    expect(cookie).toMatch(/^__Host-atb_embed_session=/);
    expect(await caller.authorization(req('GET', cookie), PROD)).toMatch(/^Bearer /);
    await expect(caller.authorization(req('GET', cookie), STAGING)).rejects.toMatchObject({ code: 'invalid_token', extra: { reason: 'session-other-deployment' } });
  });

  it('session-person-without-a-role-on-the-deployment: 403 insufficient_scope with a reason, not a token-endpoint error', async () => {
    const { logins, caller } = setup({ refuse: new OAuthError('invalid_target', 'no role of this identity grants anything on deployment prod') });
    const { cookie } = await loggedIn(logins);
    await expect(caller.authorization(req('GET', cookie), PROD)).rejects.toMatchObject({ code: 'insufficient_scope', status: 403, extra: { reason: 'no-role-on-deployment' } });
  });

  it.each(['POST', 'PATCH', 'PUT', 'DELETE'])('session-%s-needs-the-csrf-token', async (method) => {
    const { logins, caller } = setup();
    const { cookie, csrf } = await loggedIn(logins);
    await expect(caller.authorization(req(method, cookie), PROD)).rejects.toMatchObject({ status: 403, extra: { reason: 'csrf-token-missing-or-wrong' } });
    expect(await caller.authorization(req(method, cookie, { 'x-csrf-token': csrf }), PROD)).toMatch(/^Bearer /);
  });

  it('same-origin Origin and Sec-Fetch-Site none/same-origin use the session', async () => {
    const { logins, caller } = setup();
    const { cookie } = await loggedIn(logins);
    for (const headers of [{ origin: ISSUER }, { 'sec-fetch-site': 'same-origin' }, { 'sec-fetch-site': 'none' }] as Record<string, string>[]) {
      expect(await caller.authorization(req('GET', cookie, headers), PROD)).toMatch(/^Bearer /);
    }
  });
});
