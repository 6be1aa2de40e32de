import { decodeJwt, type JWTPayload } from 'jose';
import { DEV_DIRECTORY_AUDIENCE, type DevDirectory } from '../../scripts/dev-directory.js';
import { basic, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';

/**
 * Token exchange and client credentials with a real directory (oidc-provider, its own keys): one forged or
 * unfit directory token, one test. Every refusal of a subject token is `invalid_request` (RFC 8693 §2.2.2).
 */

const TE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';
const JWT = 'urn:ietf:params:oauth:token-type:jwt';

let directory: DevDirectory;
let broker: Broker;

beforeAll(async () => {
  directory = await startDirectory({ accounts: [{ clientId: 'k8s-workload', secret: 'k8s-workload-secret', groups: ['airflow-etl'] }] });
  broker = await startBroker(directory);
});
afterAll(async () => {
  await broker.close();
  await directory.close();
});

async function directoryAccessToken(): Promise<string> {
  const res = await fetch(`${directory.issuer}/token`, {
    method: 'POST',
    headers: { authorization: basic('k8s-workload', 'k8s-workload-secret'), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

const exchange = (subjectToken: string, type: string, at: Broker = broker) =>
  tokenRequest(at, { grant_type: TE, subject_token: subjectToken, subject_token_type: type });

const refused = (res: { status: number; body: Record<string, unknown> }, description?: string) => {
  expect(res.status).toBe(400);
  expect(res.body.error).toBe('invalid_request');
  expect(res.body.access_token).toBeUndefined();
  if (description) expect(res.body.error_description).toBe(description);
};

const now = () => Math.floor(Date.now() / 1000);
const person = (over: JWTPayload = {}): JWTPayload => ({ sub: 'alice', aud: DEV_DIRECTORY_AUDIENCE, azp: 'workflow-ui', groups: ['airflow-etl'], ...over });

describe('one token, one string: strict compact serialization', () => {
  it('control: the genuine directory access token is exchanged', async () => {
    expect((await exchange(await directoryAccessToken(), ACCESS_TOKEN)).status).toBe(200);
  });

  it.each([
    ['jws-padding-appended-to-subject-token', (t: string) => `${t}==`],
    ['space-inside-subject-token-signature', (t: string) => `${t.slice(0, -20)} ${t.slice(-20)}`],
    ['newline-inside-subject-token-signature', (t: string) => `${t.slice(0, -20)}\n${t.slice(-20)}`],
    ['tab-after-subject-token', (t: string) => `${t}\t`],
    ['empty-payload-segment', (t: string) => `${t.split('.')[0]}..${t.split('.')[2]}`],
    ['non-canonical-base64url-subject-token-signature', (t: string) => {
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      return t.slice(0, -1) + alphabet[alphabet.indexOf(t.at(-1)!) ^ 1]; // ES256: 4 unused bits, same bytes
    }],
  ])('%s', async (_name, mangle) => {
    refused(await exchange(mangle(await directoryAccessToken()), ACCESS_TOKEN), 'subject_token is not a compact JWT');
  });

  const header = JSON.stringify({ alg: 'ES256', kid: 'dev-directory-1', typ: 'JWT' });
  const payload = () => JSON.stringify({ iss: directory.issuer, iat: now(), exp: now() + 300, ...person() });

  it('control: exact bytes signed by the directory are exchanged', async () => {
    expect((await exchange(await directory.signRaw(header, payload()), ID_TOKEN)).status).toBe(200);
  });

  it('bom-before-subject-token-payload', async () => {
    refused(await exchange(await directory.signRaw(header, `\uFEFF${payload()}`), ID_TOKEN), 'subject_token is not a compact JWT');
  });

  it('bom-before-subject-token-header', async () => {
    refused(await exchange(await directory.signRaw(`\uFEFF${header}`, payload()), ID_TOKEN), 'subject_token is not a compact JWT');
  });

  it('subject-token-payload-is-a-json-array', async () => {
    refused(await exchange(await directory.signRaw(header, `[${payload()}]`), JWT));
  });
});

describe('token type confusion', () => {
  const keycloakAccess = () => directory.signAsDirectory(person({ typ: 'Bearer', scope: 'profile email' }), { typ: 'JWT' });
  const keycloakId = () => directory.signAsDirectory(person({ typ: 'ID', auth_time: now() - 60 }), { typ: 'JWT' });

  it('control: a Keycloak access token (typ JWT, claim typ Bearer) as access_token', async () => {
    expect((await exchange(await keycloakAccess(), ACCESS_TOKEN)).status).toBe(200);
  });

  it('control: a Keycloak ID token (typ JWT, claim typ ID) as id_token', async () => {
    expect((await exchange(await keycloakId(), ID_TOKEN)).status).toBe(200);
  });

  it('keycloak-id-token-without-nonce-as-access-token', async () => {
    refused(await exchange(await keycloakId(), ACCESS_TOKEN), 'subject_token is not an access_token');
  });

  it('keycloak-access-token-as-id-token', async () => {
    refused(await exchange(await keycloakAccess(), ID_TOKEN), 'subject_token is not an id_token');
  });

  it('directory-access-token-as-id-token (typ at+jwt, client_id)', async () => {
    refused(await exchange(await directoryAccessToken(), ID_TOKEN), 'subject_token is not an id_token');
  });

  it('id-token-with-at-hash-as-access-token', async () => {
    refused(await exchange(await directory.signAsDirectory(person({ at_hash: 'x6mHHJf3eCU4yXBvqGmSdA' })), ACCESS_TOKEN), 'subject_token is not an access_token');
  });

  it('token-that-says-nothing-of-its-type-as-access-token', async () => {
    refused(await exchange(await directory.signAsDirectory(person()), ACCESS_TOKEN), 'subject_token is not an access_token');
  });

  it('control: a token that says nothing of its type as id_token and as jwt', async () => {
    expect((await exchange(await directory.signAsDirectory(person()), ID_TOKEN)).status).toBe(200);
    expect((await exchange(await directory.signAsDirectory(person()), JWT)).status).toBe(200);
  });

  it('conflicting-type-evidence (at+jwt with a nonce) as jwt', async () => {
    refused(await exchange(await directory.signAsDirectory(person({ client_id: 'workflow-ui', nonce: 'n-0S6' }), { typ: 'at+jwt' }), JWT), 'subject_token says it is both an access token and an ID token');
  });

  it('keycloak-refresh-token (claim typ Refresh) as jwt', async () => {
    refused(await exchange(await directory.signAsDirectory(person({ typ: 'Refresh' }), { typ: 'JWT' }), JWT), 'subject_token is neither an access token nor an ID token');
  });

  it('logout-token (header typ logout+jwt) as jwt', async () => {
    refused(await exchange(await directory.signAsDirectory(person({ events: {} }), { typ: 'logout+jwt' }), JWT), 'subject_token is neither an access token nor an ID token');
  });

});

describe('time', () => {
  it('subject-token-iat-in-the-future beyond the leeway', async () => {
    refused(await exchange(await directory.signAsDirectory(person(), { issuedAt: now() + 120, expiresIn: now() + 400 }), ID_TOKEN), 'subject_token is issued in the future');
  });

  it('control: subject token iat within the leeway (clock skew)', async () => {
    expect((await exchange(await directory.signAsDirectory(person(), { issuedAt: now() + 20, expiresIn: now() + 300 }), ID_TOKEN)).status).toBe(200);
  });

  it('exchanged-token-outlives-the-subject-token', async () => {
    const subject = await directory.signAsDirectory(person(), { expiresIn: now() + 10 });
    const res = await exchange(subject, ID_TOKEN);
    expect(res.status).toBe(200);
    const issued = decodeJwt(res.body.access_token as string);
    expect(issued.exp).toBeLessThanOrEqual(decodeJwt(subject).exp!);
    expect(res.body.expires_in).toBe(issued.exp! - issued.iat!);
    expect(res.body.expires_in).toBeLessThanOrEqual(10);
  });

  it('subject-token-expired-within-the-leeway: nothing left to exchange', async () => {
    refused(await exchange(await directory.signAsDirectory(person(), { issuedAt: now() - 300, expiresIn: now() - 5 }), ID_TOKEN), 'subject_token has expired');
  });
});

describe('claim shapes used for role mapping', () => {
  it('groups-claim-as-a-single-string: refused unless the directory is configured to send one', async () => {
    refused(await exchange(await directory.signAsDirectory(person({ groups: 'airflow-etl' })), ID_TOKEN), 'subject_token claim groups is not an array of strings');
  });

  it('groups-array-with-a-non-string-member', async () => {
    refused(await exchange(await directory.signAsDirectory(person({ groups: ['airflow-etl', { name: 'admins' }] })), ID_TOKEN), 'subject_token claim groups is not an array of strings');
  });
});

describe('a directory configured for Cognito-style token_use and for groups sent as one string', () => {
  let configured: Broker;
  beforeAll(async () => {
    configured = await startBroker(directory, {
      configure: (c) => {
        const dev = c.directories!.dev!;
        dev.claims = { groups_may_be_string: true };
        dev.token_exchange = { audiences: [DEV_DIRECTORY_AUDIENCE], type_claim: { name: 'token_use', access_token: ['access'], id_token: ['id'] } };
      },
    });
  });
  afterAll(() => configured.close());

  it('directory-configured-type-claim: token_use id as access_token', async () => {
    refused(await exchange(await directory.signAsDirectory(person({ token_use: 'id' })), ACCESS_TOKEN, configured), 'subject_token is not an access_token');
  });

  it('control: token_use access as access_token', async () => {
    expect((await exchange(await directory.signAsDirectory(person({ token_use: 'access' })), ACCESS_TOKEN, configured)).status).toBe(200);
  });

  it('groups-claim-as-a-single-string where configured: matches that one group', async () => {
    const res = await exchange(await directory.signAsDirectory(person({ groups: 'airflow-etl' })), ID_TOKEN, configured);
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('etl-operator');
  });
});

describe('the directory token behind client_credentials', () => {
  let skewed: DevDirectory;
  let skewedBroker: Broker;
  beforeAll(async () => {
    skewed = await startDirectory({
      accounts: [{ clientId: 'k8s-workload', secret: 'k8s-workload-secret', groups: ['airflow-etl'] }],
      customizeAccessToken: (payload) => {
        payload.iat = (payload.iat as number) + 120;
        payload.exp = (payload.exp as number) + 120;
      },
    });
    skewedBroker = await startBroker(skewed);
  });
  afterAll(async () => {
    await skewedBroker.close();
    await skewed.close();
  });

  it('client-credentials-directory-token-iat-in-the-future', async () => {
    const res = await tokenRequest(skewedBroker, { grant_type: 'client_credentials' }, { authorization: basic('k8s-workload', 'k8s-workload-secret') });
    expect(res.body.access_token).toBeUndefined();
    // The directory's fault, never blamed on the caller: a dependency failure.
    expect([res.status, res.body.error]).toEqual([503, 'temporarily_unavailable']);
  });

  it('client-credentials-directory-token-with-padding-appended', async () => {
    const padding = await startDirectory({ accounts: [{ clientId: 'k8s-workload', secret: 'k8s-workload-secret', groups: ['airflow-etl'] }], rewriteAccessToken: (t) => `${t}==` });
    const paddingBroker = await startBroker(padding);
    try {
      const res = await tokenRequest(paddingBroker, { grant_type: 'client_credentials' }, { authorization: basic('k8s-workload', 'k8s-workload-secret') });
      expect(res.body.access_token).toBeUndefined();
      expect([res.status, res.body.error]).toEqual([503, 'temporarily_unavailable']);
    } finally {
      await paddingBroker.close();
      await padding.close();
    }
  });

  it('control: client credentials with the directory token as issued', async () => {
    const res = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('k8s-workload', 'k8s-workload-secret') });
    expect(res.status).toBe(200);
  });
});
