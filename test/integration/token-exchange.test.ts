import { createRemoteJWKSet, generateKeyPair, jwtVerify, SignJWT, UnsecuredJWT } from 'jose';
import { DEV_DIRECTORY_AUDIENCE, type DevDirectory } from '../../scripts/dev-directory.js';
import { basic, PROD_AUDIENCE, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';

const TE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';

let directory: DevDirectory;
let broker: Broker;

beforeAll(async () => {
  directory = await startDirectory({
    // Longer than the role's 10m token_ttl: an exchanged token never outlives its subject token.
    accessTokenTtlSeconds: 3600,
    accounts: [
      { clientId: 'k8s-workload', secret: 'k8s-workload-secret', groups: ['airflow-etl'] },
      { clientId: 'svc-reporting', secret: 'svc-reporting-secret', groups: [] },
    ],
  });
  broker = await startBroker(directory);
});
afterAll(async () => {
  await broker.close();
  await directory.close();
});

/** A real access token from the directory, as a workload would already hold. */
async function directoryAccessToken(clientId = 'k8s-workload', secret = 'k8s-workload-secret'): Promise<string> {
  const res = await fetch(`${directory.issuer}/token`, {
    method: 'POST',
    headers: { authorization: basic(clientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

const exchange = (subjectToken: string, type = ACCESS_TOKEN, extra: Record<string, string> = {}, headers: Record<string, string> = {}) =>
  tokenRequest(broker, { grant_type: TE, subject_token: subjectToken, subject_token_type: type, ...extra }, headers);

describe('RFC 8693 token exchange', () => {
  it('exchanges a directory access token for a scoped broker token', async () => {
    const res = await exchange(await directoryAccessToken());
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      token_type: 'Bearer',
      issued_token_type: ACCESS_TOKEN,
      scope: 'etl-operator',
      expires_in: 600,
    });
    const jwks = createRemoteJWKSet(new URL(`${broker.url}/oauth2/jwks`));
    const { payload } = await jwtVerify(res.body.access_token as string, jwks, { issuer: broker.url, audience: PROD_AUDIENCE, typ: 'at+jwt' });
    expect(payload).toMatchObject({ sub: 'k8s-workload', client_id: 'k8s-workload', scope: 'etl-operator' });
  });

  it('exchanges a directory ID token', async () => {
    const idToken = await directory.signAsDirectory({ sub: 'alice', aud: DEV_DIRECTORY_AUDIENCE, azp: 'workflow-ui', groups: ['airflow-etl'] });
    const res = await exchange(idToken, ID_TOKEN);
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('etl-operator');
  });

  it('binds by client_id from the subject token (svc-reporting)', async () => {
    const res = await exchange(await directoryAccessToken('svc-reporting', 'svc-reporting-secret'));
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('reporting-reader');
  });
});

describe('token exchange refusals are invalid_request (RFC 8693 §2.2.2)', () => {
  const expectInvalidRequest = (res: { status: number; body: Record<string, unknown> }) => {
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
  };

  it('forged-signature: a key the directory never published', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ sub: 'mallory', groups: ['airflow-etl'], client_id: 'k8s-workload' })
      .setProtectedHeader({ alg: 'ES256', kid: 'dev-directory-1' })
      .setIssuer(directory.issuer)
      .setAudience(DEV_DIRECTORY_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    const res = await exchange(forged);
    expectInvalidRequest(res);
    expect(res.body.error_description).toBe('subject_token is invalid');
  });

  it('alg-none: unsigned token', async () => {
    const unsigned = new UnsecuredJWT({ sub: 'mallory', groups: ['airflow-etl'] })
      .setIssuer(directory.issuer)
      .setAudience(DEV_DIRECTORY_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('5m')
      .encode();
    const res = await exchange(unsigned);
    expectInvalidRequest(res);
    // Its empty signature segment is refused before any verification: three non-empty segments or nothing.
    expect(res.body.error_description).toBe('subject_token is not a compact JWT');
  });

  it('alg-confusion: HS256 keyed with public material', async () => {
    const jwks = (await (await fetch(`${directory.issuer}/jwks`)).json()) as { keys: Array<Record<string, string>> };
    const secret = new TextEncoder().encode(JSON.stringify(jwks.keys[0]));
    const confused = await new SignJWT({ sub: 'mallory', groups: ['airflow-etl'] })
      .setProtectedHeader({ alg: 'HS256', kid: 'dev-directory-1' })
      .setIssuer(directory.issuer)
      .setAudience(DEV_DIRECTORY_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(secret);
    const res = await exchange(confused);
    expectInvalidRequest(res);
    // Refused on the directory's algorithm allow-list (never HS*), before any key is looked up.
    expect(res.body.error_description).toBe('subject_token is signed with HS256, which this broker does not accept from its issuer');
  });

  it('untrusted-issuer: a token from an issuer not in the configuration', async () => {
    const other = await startDirectory();
    try {
      const token = await other.signAsDirectory({ sub: 'x', aud: DEV_DIRECTORY_AUDIENCE, groups: ['airflow-etl'] });
      const res = await exchange(token, ID_TOKEN);
      expectInvalidRequest(res);
      expect(res.body.error_description).toBe('subject_token issuer is not trusted');
    } finally {
      await other.close();
    }
  });

  it('own-token-replayed-as-subject: broker tokens are not subject tokens', async () => {
    const ours = await exchange(await directoryAccessToken());
    expectInvalidRequest(await exchange(ours.body.access_token as string));
  });

  it('wrong-audience', async () => {
    const token = await directory.signAsDirectory({ sub: 'alice', aud: 'some-other-app', groups: ['airflow-etl'] });
    const res = await exchange(token, ID_TOKEN);
    expectInvalidRequest(res);
    expect(res.body.error_description).toBe('subject_token audience is not accepted');
  });

  it('expired', async () => {
    const token = await directory.signAsDirectory({ sub: 'alice', aud: DEV_DIRECTORY_AUDIENCE }, { expiresIn: '-5m' });
    const res = await exchange(token, ID_TOKEN);
    expectInvalidRequest(res);
    expect(res.body.error_description).toBe('subject_token has expired');
  });

  it('access-token-presented-as-id-token', async () => {
    expectInvalidRequest(await exchange(await directoryAccessToken(), ID_TOKEN));
  });

  it('id-token-presented-as-access-token', async () => {
    const idToken = await directory.signAsDirectory({ sub: 'alice', aud: DEV_DIRECTORY_AUDIENCE, nonce: 'n-0S6_WzA2Mj', groups: ['airflow-etl'] });
    expectInvalidRequest(await exchange(idToken, ACCESS_TOKEN));
  });

  it('unsupported-subject-token-type', async () => {
    expectInvalidRequest(await exchange(await directoryAccessToken(), 'urn:ietf:params:oauth:token-type:saml2'));
  });

  it('missing-subject-token', async () => {
    expectInvalidRequest(await tokenRequest(broker, { grant_type: TE, subject_token_type: ACCESS_TOKEN }));
  });

  it('garbage-subject-token', async () => {
    expectInvalidRequest(await exchange('not-a-jwt'));
  });

  it('actor-token-delegation', async () => {
    const token = await directoryAccessToken();
    expectInvalidRequest(await exchange(token, ACCESS_TOKEN, { actor_token: token, actor_token_type: ACCESS_TOKEN }));
  });

  it('requested-refresh-token', async () => {
    expectInvalidRequest(await exchange(await directoryAccessToken(), ACCESS_TOKEN, { requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }));
  });

  it('client-credentials-alongside-exchange', async () => {
    expectInvalidRequest(await exchange(await directoryAccessToken(), ACCESS_TOKEN, {}, { authorization: basic('k8s-workload', 'k8s-workload-secret') }));
  });

  it('unknown-target: invalid_target', async () => {
    const res = await exchange(await directoryAccessToken(), ACCESS_TOKEN, { audience: 'https://elsewhere.example' });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_target');
  });
});
