import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { PROD_AUDIENCE, tokenRequest, type Broker } from '../helpers/broker-harness.js';
import { clientCredentialsAt, KC, KEYCLOAK_START_TIMEOUT_MS, startBrokerOnKeycloak, startKeycloak, type KeycloakServer } from '../helpers/keycloak-server.js';

/**
 * The broker against a real Keycloak 26 (test/fixtures/keycloak/airflow-realm.json) with the example policy:
 * group `airflow-etl` -> etl-operator, client `svc-reporting` -> reporting-reader.
 */

const TE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let kc: KeycloakServer;
let broker: Broker;

beforeAll(async () => {
  kc = await startKeycloak();
  broker = await startBrokerOnKeycloak(kc, {
    // The key rotation test's traffic sends far more than the default 120 token requests a minute.
    configure: (c) => void (c.rate_limits = { per_client: { requests: 100_000, per: '1m' }, per_ip: { requests: 100_000, per: '1m' } }),
  });
}, KEYCLOAK_START_TIMEOUT_MS);
afterAll(async () => {
  await broker?.close();
  await kc?.stop();
});

const clientCredentials = (client: { id: string; secret: string }) => clientCredentialsAt(broker, client);
const exchange = (subject_token: string, type: string) => tokenRequest(broker, { grant_type: TE, subject_token, subject_token_type: type });

async function brokerClaims(token: string) {
  const jwks = createRemoteJWKSet(new URL(`${broker.url}/oauth2/jwks`));
  return (await jwtVerify(token, jwks, { issuer: broker.url, audience: PROD_AUDIENCE, typ: 'at+jwt' })).payload;
}

/** The id of the user Keycloak keeps for a client's service account: the `sub` of its tokens. */
async function serviceAccountUserId(clientId: string): Promise<string> {
  const [client] = (await (await kc.admin(`/clients?clientId=${clientId}`)).json()) as { id: string }[];
  return ((await (await kc.admin(`/clients/${client!.id}/service-account-user`)).json()) as { id: string }).id;
}

describe('Keycloak: client credentials', () => {
  it('a service account gets the roles bound to its group; the token names the client, its sub is the service-account user id', async () => {
    const res = await clientCredentials(KC.etl);
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('etl-operator');
    const claims = await brokerClaims(res.body.access_token as string);
    expect(claims.client_id).toBe('svc-etl');
    // Keycloak's service-account sub is a UUID, not the client id: bind and revoke by client_id.
    expect(claims.sub).toMatch(UUID);
    expect(claims.sub).toBe(await serviceAccountUserId('svc-etl'));
  });

  it('what Keycloak sends a service account: iss exactly the realm URL, azp and client_id the client, groups without a leading "/"', async () => {
    const res = await kc.token({ grant_type: 'client_credentials' }, KC.etl);
    const claims = decodeJwt(res.body.access_token!);
    expect(decodeProtectedHeader(res.body.access_token!)).toMatchObject({ alg: 'RS256', typ: 'JWT' });
    expect(claims).toMatchObject({ iss: kc.issuer, azp: 'svc-etl', client_id: 'svc-etl', typ: 'Bearer', groups: ['airflow-etl'] });
    expect(claims.aud).toEqual(expect.arrayContaining(['urn:airflow-token-broker']));
    expect(claims).toMatchObject({ realm_access: { roles: expect.arrayContaining(['airflow-etl']) }, resource_access: { airflow: { roles: ['operator'] } } });
  });

  it("without the audience mapper Keycloak's aud is its default (account and the clients whose roles the token carries), not the broker", async () => {
    const claims = decodeJwt((await kc.token({ grant_type: 'client_credentials' }, KC.noAudience)).body.access_token!);
    expect(claims.aud).toEqual(expect.arrayContaining(['account', 'airflow']));
    expect(claims.aud).not.toContain('urn:airflow-token-broker');
  });

  it('a client bound by client_id gets its role', async () => {
    const res = await clientCredentials(KC.reporting);
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('reporting-reader');
  });

  it('a client the policy does not bind is refused', async () => {
    const res = await clientCredentials(KC.unbound);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_scope', error_description: 'no role is bound to this identity' });
  });

  it('a wrong secret is invalid_client, as Keycloak says', async () => {
    const res = await clientCredentials({ id: KC.etl.id, secret: 'wrong' });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
  });
});

describe('Keycloak: token exchange of a user login', () => {
  it("exchanges the user's access token: roles from the user's group, client_id the login client (azp)", async () => {
    const { access } = await kc.login();
    expect(decodeJwt(access)).toMatchObject({ typ: 'Bearer', azp: 'workflow-ui', preferred_username: 'alice' });
    const res = await exchange(access, ACCESS_TOKEN);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ issued_token_type: ACCESS_TOKEN, scope: 'etl-operator' });
    const claims = await brokerClaims(res.body.access_token as string);
    expect(claims.sub).toBe(decodeJwt(access).sub);
    expect(claims.sub).toMatch(UUID);
    expect(claims.client_id).toBe('workflow-ui');
  });

  it("exchanges the user's ID token (the audience mapper adds the broker to it)", async () => {
    const { id } = await kc.login();
    expect(decodeJwt(id)).toMatchObject({ typ: 'ID', azp: 'workflow-ui' });
    const res = await exchange(id, ID_TOKEN);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ issued_token_type: ACCESS_TOKEN, scope: 'etl-operator' });
  });

  it('refuses a Keycloak token declared as the other type', async () => {
    const { access, id } = await kc.login();
    const idAsAccess = await exchange(id, ACCESS_TOKEN);
    expect(idAsAccess.status).toBe(400);
    expect(idAsAccess.body).toMatchObject({ error: 'invalid_request', error_description: 'subject_token is not an access_token' });
    const accessAsId = await exchange(access, ID_TOKEN);
    expect(accessAsId.status).toBe(400);
    expect(accessAsId.body).toMatchObject({ error: 'invalid_request', error_description: 'subject_token is not an id_token' });
  });
});

/** What the broker answered at one moment of the traffic. */
interface Answer {
  at: number;
  status: number;
  error?: unknown;
  retryAfter: string | null;
}

describe('Keycloak: realm key rotation during traffic', () => {
  it('directory-key-rotation-answers-500: rotating the realm key twice in a row under load causes no 500, only a short 503 window', async () => {
    // Warm: the broker has fetched the realm's key set.
    expect((await clientCredentials(KC.etl)).status).toBe(200);
    const answers: Answer[] = [];
    let stopping = false;
    const traffic = (async () => {
      while (!stopping) {
        const res = await clientCredentials(KC.etl);
        answers.push({ at: Date.now(), status: res.status, error: res.body.error, retryAfter: res.headers.get('retry-after') });
      }
    })();
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    await sleep(1_000);
    const signingKid = async () => decodeProtectedHeader((await kc.token({ grant_type: 'client_credentials' }, KC.etl)).body.access_token!).kid;
    const firstAt = Date.now();
    const first = await kc.rotateKey();
    expect(await signingKid()).toBe(first);
    await sleep(500);
    // A second rotation soon after the first: the broker may not refetch the key set again at once.
    const secondAt = Date.now();
    const second = await kc.rotateKey();
    expect(await signingKid()).toBe(second);
    const rotationsApart = Date.now() - firstAt;
    await sleep(8_000);
    stopping = true;
    await traffic;
    expect(second).not.toBe(first);

    const refused = answers.filter((a) => a.status !== 200);
    expect(refused.filter((a) => a.status !== 503)).toEqual([]);
    for (const a of refused) {
      expect(a.error).toBe('temporarily_unavailable');
      expect(Number(a.retryAfter)).toBeGreaterThan(0);
    }
    // The first rotation was after a quiet period: its new key was fetched at once, no refusal before the second.
    expect(answers.filter((a) => a.at > firstAt && a.at < secondAt)).not.toEqual([]);
    expect(answers.filter((a) => a.at < secondAt && a.status !== 200)).toEqual([]);
    // The 503 window: from the first refusal to the first success after it.
    const start = refused[0]?.at;
    const end = start === undefined ? undefined : answers.find((a) => a.at > start && a.status === 200)?.at;
    const window = start === undefined ? 0 : end! - start;
    console.log(`Keycloak key rotation: ${answers.length} requests, rotations within ${rotationsApart} ms, ${refused.length} answered 503, 503 window ${window} ms`);
    expect(window).toBeLessThanOrEqual(6_000);
    expect(answers.at(-1)!.status).toBe(200);

    // A user token signed by the newest key is exchanged as well.
    const { access } = await kc.login();
    expect(decodeProtectedHeader(access).kid).toBe(second);
    expect((await exchange(access, ACCESS_TOKEN)).status).toBe(200);
  }, 60_000);
});
