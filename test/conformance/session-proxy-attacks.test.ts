import { startBrokerBeforeStandIn, type StandInSetup } from '../helpers/recording-upstream.js';
import { devLogin } from '../helpers/login-broker.js';
import { loginAs, PersonBrowser } from '../helpers/person-browser.js';

/**
 * The proxy with a person's session (no `Authorization`, the session cookie): what a page on another site, or a
 * page without the session's CSRF token, can make the browser send is refused before anything reaches Airflow.
 */

let setup: StandInSetup;
let alice: PersonBrowser;
let csrfToken: string;

beforeAll(async () => {
  setup = await startBrokerBeforeStandIn({}, undefined, 'v2', (c) => {
    c.login = devLogin();
  });
  setup.directory.addLoginRedirectUri(`${setup.broker.url}/login/callback`);
  alice = new PersonBrowser();
  await loginAs(alice, setup.broker.url, 'alice', 'alice-password');
  const session = await alice.request(`${setup.broker.url}/session`);
  csrfToken = ((await session.json()) as { csrf_token: string }).csrf_token;
});
afterAll(() => setup.close());
beforeEach(() => setup.upstream.reset());

const api = (path: string) => `${setup.broker.url}/airflow/prod/api/v2${path}`;
const trigger = (headers: Record<string, string>) =>
  alice.request(api('/dags/etl_daily/dagRuns'), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ logical_date: null }) });

async function refusal(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

describe('the proxy with a session', () => {
  it('session-read-without-authorization-header: the person\'s call reaches Airflow with the proxy\'s credentials, never the cookie', async () => {
    const res = await alice.request(api('/dags/etl_daily'), { headers: { 'sec-fetch-site': 'same-origin' } });
    expect(res.status).toBe(200);
    expect(setup.upstream.seen).toHaveLength(1);
    expect(setup.upstream.seen[0]!.headers.cookie).toBeUndefined();
    expect(setup.upstream.seen[0]!.headers.authorization).toMatch(/^Bearer /);
    const record = setup.broker.audit.decisions.at(-1)!;
    expect(record).toMatchObject({ sub: 'alice', decision: 'allow', deployment: 'prod' });
  });

  it('session-read-of-a-dag-outside-the-roles is refused with its reason, as for an API client', async () => {
    const res = await alice.request(api('/dags/payroll_monthly'));
    expect(res.status).toBe(403);
    expect(await refusal(res)).toMatchObject({ error: 'insufficient_scope', reason: 'no-matching-grant', operation: 'get_dag' });
    expect(setup.upstream.seen).toHaveLength(0);
  });

  it('session-write-without-csrf-token', async () => {
    const res = await trigger({});
    expect(res.status).toBe(403);
    expect(await refusal(res)).toMatchObject({ error: 'invalid_request', reason: 'csrf-token-missing-or-wrong' });
    expect(setup.upstream.seen).toHaveLength(0);
    // The audit names the person whose session it was, although no token was minted.
    expect(setup.broker.audit.decisions.at(-1)).toMatchObject({ sub: 'alice', decision: 'deny', reason: 'invalid_request' });
  });

  it('session-write-with-wrong-csrf-token', async () => {
    const res = await trigger({ 'x-csrf-token': csrfToken.slice(0, -1) + (csrfToken.endsWith('A') ? 'B' : 'A') });
    expect(res.status).toBe(403);
    expect(await refusal(res)).toMatchObject({ reason: 'csrf-token-missing-or-wrong' });
    expect(setup.upstream.seen).toHaveLength(0);
  });

  it('session-write-with-the-session\'s-csrf-token reaches Airflow (the control case)', async () => {
    const res = await trigger({ 'x-csrf-token': csrfToken, origin: setup.broker.url });
    expect(res.status).toBe(200);
    expect(setup.upstream.seen.map((s) => s.method)).toEqual(['POST']);
  });

  it.each([
    ['cross-site-origin-with-valid-session-cookie', { origin: 'https://evil.example', 'x-csrf-token': '' }],
    ['cross-site-fetch-metadata-with-valid-session-cookie', { 'sec-fetch-site': 'cross-site', 'x-csrf-token': '' }],
    ['same-site-other-origin-with-valid-session-cookie', { 'sec-fetch-site': 'same-site', 'x-csrf-token': '' }],
    ['null-origin-with-valid-session-cookie', { origin: 'null', 'x-csrf-token': '' }],
  ])('%s: the session is not used at all, even with its CSRF token', async (_name, headers) => {
    const res = await trigger({ ...headers, 'x-csrf-token': csrfToken });
    expect(res.status).toBe(401);
    expect((await refusal(res)).error).toBe('invalid_token');
    const read = await alice.request(api('/dags/etl_daily'), { headers: { ...headers } });
    expect(read.status).toBe(401);
    expect(setup.upstream.seen).toHaveLength(0);
  });

  it('authorization-header-wins-over-the-session: a bad bearer token is refused although the cookie is valid', async () => {
    const res = await alice.request(api('/dags/etl_daily'), { headers: { authorization: 'Bearer not-a-token' } });
    expect(res.status).toBe(401);
    expect(setup.upstream.seen).toHaveLength(0);
  });
});
