import { decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { DEV_DIRECTORY_AUDIENCE, type DevDirectory } from '../../scripts/dev-directory.js';
import { UNKNOWN_KEY_REFETCH_INTERVAL_MS } from '../../src/directory/directory-key-set.js';
import { basic, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';
import { watchJwks, type JwksWatch } from '../helpers/jwks-watch.js';

/**
 * The directory rotates its signing key (or creates one on first need, as Keycloak does): a token signed by a
 * key the broker has not fetched yet makes the broker refetch the key set at once, at most once per interval.
 * Each test gets its own broker, so its key set cache starts cold.
 */

const etl = { authorization: basic('demo-etl', 'demo-etl-secret') };
const TE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

let directory: DevDirectory;
let broker: Broker;
let jwks: JwksWatch;

beforeAll(async () => {
  directory = await startDirectory();
  jwks = watchJwks(directory);
});
afterAll(async () => directory.close());
beforeEach(async () => {
  broker = await startBroker(directory);
  // Warm: discovery done and the key set fetched.
  expect((await clientCredentials()).status).toBe(200);
});
afterEach(async () => broker.close());

const clientCredentials = () => tokenRequest(broker, { grant_type: 'client_credentials' }, etl);
const exchange = (subject_token: string) => tokenRequest(broker, { grant_type: TE, subject_token, subject_token_type: ACCESS_TOKEN });
const directoryToken = () =>
  fetch(`${directory.issuer}/token`, { method: 'POST', headers: { ...etl, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' })
    .then((r) => r.json() as Promise<{ access_token: string }>)
    .then((b) => b.access_token);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function expectKeyNotYetFetched(res: { status: number; headers: Headers; body: Record<string, unknown> }) {
  expect(res.status).toBe(503);
  expect(res.body.error).toBe('temporarily_unavailable');
  expect(res.body.error_description).toMatch(/not fetched from the central directory yet/);
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(Math.ceil(UNKNOWN_KEY_REFETCH_INTERVAL_MS / 1000));
  return retryAfter;
}

describe('directory key rotation', () => {
  it('directory-key-rotation-answers-500: client_credentials right after a rotation is accepted, not 500', async () => {
    const kid = await directory.rotateSigningKey();
    expect(decodeProtectedHeader(await directoryToken()).kid).toBe(kid);
    const res = await clientCredentials();
    expect(res.body.error).toBeUndefined();
    expect(res.status).toBe(200);
  });

  it('directory-key-rotation-answers-500: an exchange of a token signed by the new key is accepted, not 400', async () => {
    await directory.rotateSigningKey();
    const res = await exchange(await directoryToken());
    expect(res.body.error).toBeUndefined();
    expect(res.status).toBe(200);
  });

  it('concurrent tokens signed by the new key share one refetch of the key set', async () => {
    await directory.rotateSigningKey();
    const tokens = await Promise.all(Array.from({ length: 8 }, () => directoryToken()));
    const before = jwks.requests;
    const answers = await Promise.all([...tokens.map((t) => exchange(t)), clientCredentials(), clientCredentials()]);
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    expect(jwks.requests - before).toBe(1);
  });

  it('a second rotation within the refetch interval answers 503 with Retry-After (never 500, never the token blamed), then succeeds', async () => {
    await directory.rotateSigningKey();
    expect((await clientCredentials()).status).toBe(200);
    await directory.rotateSigningKey();
    const issuance = await clientCredentials();
    const retryAfter = expectKeyNotYetFetched(issuance);
    expectKeyNotYetFetched(await exchange(await directoryToken()));
    await sleep(retryAfter * 1000);
    expect((await clientCredentials()).status).toBe(200);
    expect((await exchange(await directoryToken())).status).toBe(200);
  });

  it('a key the directory does not publish, even after a refetch, is the token\'s fault: 400', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ sub: 'demo-etl', client_id: 'demo-etl', aud: DEV_DIRECTORY_AUDIENCE })
      .setProtectedHeader({ alg: 'ES256', kid: 'never-published' })
      .setIssuer(directory.issuer)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    const before = jwks.requests;
    const res = await exchange(forged);
    expect(jwks.requests - before).toBe(1);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_request', error_description: 'subject_token is invalid' });
  });

  it('the key set cannot be refetched (directory down): 503, not the token blamed; a failed refetch does not hold back the next', async () => {
    await directory.rotateSigningKey();
    const token = await directoryToken();
    jwks.failing = true;
    try {
      const res = await exchange(token);
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ error: 'temporarily_unavailable', error_description: 'the central directory is unavailable, retry later' });
    } finally {
      jwks.failing = false;
    }
    expect((await exchange(token)).status).toBe(200);
  });
});
