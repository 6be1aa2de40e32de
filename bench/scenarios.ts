import { DEMO_ACCOUNTS } from '../scripts/dev-directory.js';
import { DAG_PATH } from './settings.js';
import type { WrkRequest } from './wrk.js';

/** The requests the bench sends: one `Scenario` per kind of call, and the calls that fetch their tokens. */

export interface Scenario {
  id: string;
  title: string;
  url: string;
  request: WrkRequest;
  /** The bench's Node processes the request goes through (their CPU profiles are divided by these counts). */
  through: readonly string[];
  /** Checked once before load: the answer wrk will count as success must really be a success. */
  check(status: number, body: string): string | undefined;
}

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const FORM = 'application/x-www-form-urlencoded';
const account = DEMO_ACCOUNTS[0]!;
const basic = 'Basic ' + Buffer.from(`${encodeURIComponent(account.clientId)}:${encodeURIComponent(account.secret)}`).toString('base64');

export async function fetchSubjectToken(tokenEndpoint: string): Promise<string> {
  const res = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': FORM },
    body: new URLSearchParams({ grant_type: 'client_credentials' }),
  });
  const body = (await res.json()) as { access_token?: string };
  if (res.status !== 200 || !body.access_token) throw new Error(`the directory gave no access token: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

/** The token endpoint scenarios and their baselines. */
export function tokenScenarios(brokerUrl: string, directoryTokenEndpoint: string, subjectToken: string): Scenario[] {
  const issuedToken = (status: number, body: string) =>
    status === 200 && typeof (JSON.parse(body) as { access_token?: unknown }).access_token === 'string' ? undefined : `HTTP ${status}: ${body}`;
  const tokenExchangeBody = new URLSearchParams({ grant_type: TOKEN_EXCHANGE, subject_token: subjectToken, subject_token_type: ACCESS_TOKEN_TYPE });
  const clientCredentials: WrkRequest = {
    method: 'POST',
    headers: { Authorization: basic, 'Content-Type': FORM },
    body: 'grant_type=client_credentials',
  };
  return [
    {
      id: 'token-exchange',
      title: 'token exchange (warm JWKS)',
      url: `${brokerUrl}/oauth2/token`,
      request: { method: 'POST', headers: { 'Content-Type': FORM }, body: tokenExchangeBody.toString() },
      through: ['broker'],
      check: issuedToken,
    },
    { id: 'client-credentials', title: 'client_credentials via broker', url: `${brokerUrl}/oauth2/token`, request: clientCredentials, through: ['broker'], check: issuedToken },
    {
      id: 'healthz',
      title: 'baseline: broker GET /healthz',
      url: `${brokerUrl}/healthz`,
      request: { method: 'GET' },
      through: ['broker'],
      check: (status, body) => (status === 200 ? undefined : `HTTP ${status}: ${body}`),
    },
    { id: 'directory-direct', title: 'baseline: directory token endpoint', url: directoryTokenEndpoint, request: clientCredentials, through: [], check: issuedToken },
  ];
}

/** One request per scenario before load; the token exchange one also fills the broker's JWKS cache. */
export async function preflight(scenarios: Scenario[]): Promise<void> {
  for (const s of scenarios) {
    const res = await fetch(s.url, { method: s.request.method, headers: s.request.headers ?? {}, body: s.request.body ?? null });
    const problem = s.check(res.status, await res.text());
    if (problem) throw new Error(`${s.title}: the first request did not succeed (${problem})`);
  }
}

/** A broker access token of demo-etl (role etl-operator) for one upstream, through the real token endpoint. */
export async function proxyToken(brokerUrl: string, audience: string): Promise<string> {
  const res = await fetch(`${brokerUrl}/oauth2/token`, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': FORM },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: audience }),
  });
  const body = (await res.json()) as { access_token?: string };
  if (res.status !== 200 || !body.access_token) throw new Error(`the broker issued no token for ${audience}: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

/** An upstream token as the proxy's service account gets it: `POST /auth/token` with a JSON body, 201. */
export async function upstreamLogin(upstreamUrl: string, username: string, password: string): Promise<string> {
  const res = await fetch(`${upstreamUrl}/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  const body = (await res.json()) as { access_token?: string };
  if (res.status !== 201 || !body.access_token) throw new Error(`login at ${upstreamUrl} failed: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

export function dagAnswer(status: number, body: string): string | undefined {
  if (status !== 200) return `HTTP ${status}: ${body.slice(0, 300)}`;
  return (JSON.parse(body) as { dag_id?: unknown }).dag_id === 'etl_daily' ? undefined : `not the DAG: ${body.slice(0, 300)}`;
}

/** `GET <base>/api/v2/dags/etl_daily` with a bearer token. */
export function dagScenario(id: string, title: string, base: string, token: string, through: readonly string[]): Scenario {
  return { id, title, url: base + DAG_PATH, request: { method: 'GET', headers: { Authorization: `Bearer ${token}` } }, through, check: dagAnswer };
}
