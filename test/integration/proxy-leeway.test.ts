import type { DevDirectory } from '../../scripts/dev-directory.js';
import { basic, PROD_AUDIENCE, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';

/**
 * Regression (issue #11, item 1): `proxy.leeway` was said to be ignored, an expired token accepted about 31 s after
 * `exp` with `leeway: 1s`. The broker here is built the way `serve` builds it (a config file, `createServices`), with
 * a clock the test moves; the proxy's authentication stage must apply the configured leeway on the path that
 * verifies a token and on the path that finds it in the cache of verified tokens.
 */
let directory: DevDirectory;
let broker: Broker;
let offsetMs = 0;

beforeAll(async () => {
  directory = await startDirectory();
  broker = await startBroker(directory, {
    configure: (c) => {
      c.proxy = { leeway: '1s' };
    },
    overrides: { now: () => Date.now() + offsetMs },
  });
});
afterAll(async () => {
  await broker.close();
  await directory.close();
});
beforeEach(() => (offsetMs = 0));

async function freshToken(): Promise<{ authorization: string; expMs: number }> {
  const answer = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('demo-etl', 'demo-etl-secret') });
  const token = answer.body.access_token as string;
  const { exp } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { exp: number };
  return { authorization: `Bearer ${token}`, expMs: exp * 1000 };
}

const authenticate = (authorization: string) => broker.services.authenticator.authenticate(authorization, PROD_AUDIENCE);
const at = (ms: number) => (offsetMs = ms - Date.now());

describe('proxy-leeway-ignored: `proxy.leeway: 1s` is the tolerance applied, not a fixed 30 s', () => {
  it('uncached: a token 3 s past exp is refused as expired', async () => {
    const { authorization, expMs } = await freshToken();
    at(expMs + 3_000);
    await expect(authenticate(authorization)).rejects.toMatchObject({ code: 'invalid_token', rejection: 'expired' });
  });

  it('cached: a token used once before expiry is refused 3 s past exp', async () => {
    const { authorization, expMs } = await freshToken();
    await expect(authenticate(authorization)).resolves.toMatchObject({ client_id: 'demo-etl' });
    at(expMs + 3_000);
    await expect(authenticate(authorization)).rejects.toMatchObject({ code: 'invalid_token', rejection: 'expired' });
  });

  it('control: within the configured leeway (0.5 s past exp) the token is still accepted, uncached', async () => {
    const { authorization, expMs } = await freshToken();
    at(expMs + 500);
    await expect(authenticate(authorization)).resolves.toMatchObject({ client_id: 'demo-etl' });
  });

  it('control: within the configured leeway (0.5 s past exp) the token is still accepted, cached', async () => {
    const { authorization, expMs } = await freshToken();
    await authenticate(authorization);
    at(expMs + 500);
    await expect(authenticate(authorization)).resolves.toMatchObject({ client_id: 'demo-etl' });
  });
});
