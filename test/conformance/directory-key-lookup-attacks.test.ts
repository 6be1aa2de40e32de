import { generateKeyPair, SignJWT } from 'jose';
import { DEV_DIRECTORY_AUDIENCE, type DevDirectory } from '../../scripts/dev-directory.js';
import { UNKNOWN_KEY_REFETCH_INTERVAL_MS } from '../../src/directory/directory-key-set.js';
import { basic, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';
import { watchJwks, type JwksWatch } from '../helpers/jwks-watch.js';

/**
 * An unknown `kid` makes the broker refetch the directory's key set (a rotation must not be refused). An
 * attacker who sends tokens with made-up `kid`s must not turn that into a flood of requests at the directory.
 */

const TE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

let directory: DevDirectory;
let broker: Broker;
let jwks: JwksWatch;

beforeAll(async () => {
  directory = await startDirectory();
  jwks = watchJwks(directory);
  broker = await startBroker(directory);
  expect((await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('demo-etl', 'demo-etl-secret') })).status).toBe(200);
});
afterAll(async () => {
  await broker.close();
  await directory.close();
});

describe('directory key lookup attacks', () => {
  it('unknown-kid-refetch-flood: tokens with made-up kids refetch the key set at most once per interval, and are never accepted', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const forge = (kid: string) =>
      new SignJWT({ sub: 'demo-etl', client_id: 'demo-etl', aud: DEV_DIRECTORY_AUDIENCE })
        .setProtectedHeader({ alg: 'ES256', kid })
        .setIssuer(directory.issuer)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);
    const before = jwks.requests;
    const started = Date.now();
    const answers = [];
    // Three waves, sequential within each: far more than one request per interval.
    for (let wave = 0; wave < 3; wave++) {
      const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => forge(`made-up-${wave}-${i}`)));
      answers.push(...(await Promise.all(tokens.map((t) => tokenRequest(broker, { grant_type: TE, subject_token: t, subject_token_type: ACCESS_TOKEN })))));
    }
    const elapsed = Date.now() - started;
    expect(jwks.requests - before).toBeLessThanOrEqual(1 + Math.floor(elapsed / UNKNOWN_KEY_REFETCH_INTERVAL_MS));
    expect(jwks.requests - before).toBeGreaterThanOrEqual(1);
    for (const a of answers) {
      expect([400, 503]).toContain(a.status);
      if (a.status === 400) expect(a.body).toMatchObject({ error: 'invalid_request', error_description: 'subject_token is invalid' });
      else expect(Number(a.headers.get('retry-after'))).toBeGreaterThan(0);
    }
  });
});
