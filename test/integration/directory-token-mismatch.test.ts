import { generateKeyPair, SignJWT } from 'jose';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { DEV_DIRECTORY_AUDIENCE } from '../../scripts/dev-directory.js';
import { basic, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';
import { capturedLogger, type CapturedLog } from '../helpers/captured-logger.js';

/**
 * The directory's tokens do not fit what the broker is configured to accept from it (issue #8 items 3 and 4).
 * Its own client-credentials token is no caller's doing: a documented 503 with a long Retry-After, never a 500,
 * and the log names the expected and received values. A subject token is the caller's: 400, logged likewise.
 * One algorithm allow-list per directory applies on both paths, defaulting to what its discovery document names.
 */

const etl = { authorization: basic('demo-etl', 'demo-etl-secret') };
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

const directoryToken = (directory: DevDirectory) =>
  fetch(`${directory.issuer}/token`, { method: 'POST', headers: { ...etl, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' })
    .then((r) => r.json() as Promise<{ access_token: string }>)
    .then((b) => b.access_token);

const exchange = async (broker: Broker, directory: DevDirectory) =>
  tokenRequest(broker, { grant_type: EXCHANGE, subject_token: await directoryToken(directory), subject_token_type: ACCESS_TOKEN });

/** The log lines of the failed requests, each with its level, as JSON text. */
const failures = (log: CapturedLog) => log.lines.filter((l) => /request (failed|refused)/.test(String(l.msg))).map((l) => JSON.stringify(l));

function expectMisconfigured(res: { status: number; headers: Headers; body: Record<string, unknown> }, what: RegExp) {
  expect(res.status).toBe(503);
  expect(res.body.error).toBe('temporarily_unavailable');
  expect(res.body.error_description).toMatch(what);
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(30);
}

describe('audience', () => {
  let directory: DevDirectory;
  let broker: Broker;
  const log = capturedLogger();
  beforeAll(async () => {
    directory = await startDirectory();
    // As with Keycloak without an audience mapper: the directory's tokens are for another audience than configured.
    broker = await startBroker(directory, {
      configure: (c) => {
        c.directories.dev!.client_credentials = { audience: 'urn:airflow-token-broker-expected' };
        c.directories.dev!.token_exchange = { audiences: ['urn:airflow-token-broker-expected'] };
      },
      overrides: { logger: log.logger },
    });
  });
  afterAll(async () => {
    await broker.close();
    await directory.close();
  });

  it('missing-audience-mapper-answers-500: client credentials answer 503 naming the audience, and the log names both values', async () => {
    const res = await tokenRequest(broker, { grant_type: 'client_credentials' }, etl);
    expectMisconfigured(res, /not issued for this broker \(audience\)/);
    const line = failures(log).find((l) => l.includes('"level":"warn"') && l.includes('"code":"temporarily_unavailable"'));
    expect(line).toContain(`aud \\"${DEV_DIRECTORY_AUDIENCE}\\"`);
    expect(line).toContain('client_credentials.audience \\"urn:airflow-token-broker-expected\\"');
    // Named, never the token itself.
    expect(line).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  });

  it('missing-audience-mapper-answers-500: a subject token for another audience stays the caller\'s 400, the log names both values', async () => {
    log.lines.length = 0;
    const res = await exchange(broker, directory);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: 'subject_token audience is not accepted' });
    const line = failures(log).find((l) => l.includes('"code":"invalid_request"'));
    expect(line).toContain('"level":"debug"');
    expect(line).toContain(`aud \\"${DEV_DIRECTORY_AUDIENCE}\\"`);
    expect(line).toContain('token_exchange.audiences [\\"urn:airflow-token-broker-expected\\"]');
    expect(line).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  });
});

describe('algorithms', () => {
  /** A directory signing with ES384, which Keycloak offers and the old token-exchange default refused. */
  let es384: DevDirectory;
  beforeAll(async () => {
    es384 = await startDirectory({ signingAlgorithm: 'ES384' });
  });
  afterAll(async () => es384.close());

  it('algorithms-differ-by-path: by default both paths accept what the discovery document names (ES384)', async () => {
    const broker = await startBroker(es384);
    try {
      const cc = await tokenRequest(broker, { grant_type: 'client_credentials' }, etl);
      expect(cc.status).toBe(200);
      const exchanged = await exchange(broker, es384);
      expect(exchanged.status).toBe(200);
      expect(exchanged.body.scope).toBe('etl-operator');
    } finally {
      await broker.close();
    }
  });

  it('algorithms-differ-by-path: the discovery document\'s list is the default, not "anything": ES256 tokens of an ES384 directory are refused', async () => {
    // The directory publishes ES384 only; a token naming ES256 (and the directory's kid) is refused on the algorithm
    // alone, before any key lookup.
    const broker = await startBroker(es384);
    try {
      const { privateKey } = await generateKeyPair('ES256');
      const forged = await new SignJWT({ client_id: 'demo-etl' })
        .setProtectedHeader({ alg: 'ES256', kid: 'dev-directory-1' })
        .setIssuer(es384.issuer)
        .setSubject('demo-etl')
        .setAudience(DEV_DIRECTORY_AUDIENCE)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);
      const res = await tokenRequest(broker, { grant_type: EXCHANGE, subject_token: forged, subject_token_type: ACCESS_TOKEN });
      expect(res.status).toBe(400);
      expect(res.body.error_description).toBe('subject_token is signed with ES256, which this broker does not accept from its issuer');
    } finally {
      await broker.close();
    }
  });

  it('algorithms-differ-by-path: one allow-list refuses on both paths, client credentials with 503 and the exchange with 400, logged at info naming the algorithm', async () => {
    const log = capturedLogger();
    const broker = await startBroker(es384, { configure: (c) => void (c.directories.dev!.algorithms = ['ES256', 'RS256']), overrides: { logger: log.logger } });
    try {
      const cc = await tokenRequest(broker, { grant_type: 'client_credentials' }, etl);
      expectMisconfigured(cc, /signs its tokens with an algorithm this broker does not accept/);
      expect(failures(log).find((l) => l.includes('"level":"warn"'))).toContain('is signed with \\"ES384\\", not one of [\\"ES256\\",\\"RS256\\"]');
      log.lines.length = 0;
      const exchanged = await exchange(broker, es384);
      expect(exchanged.status).toBe(400);
      expect(exchanged.body).toEqual({ error: 'invalid_request', error_description: 'subject_token is signed with ES384, which this broker does not accept from its issuer' });
      expect(failures(log).find((l) => l.includes('"level":"info"'))).toContain('is signed with \\"ES384\\", not one of [\\"ES256\\",\\"RS256\\"]');
    } finally {
      await broker.close();
    }
  });

  it('algorithms-differ-by-path: the deprecated token_exchange.algorithms is the same one list, on both paths', async () => {
    const broker = await startBroker(es384, { configure: (c) => void (c.directories.dev!.token_exchange!.algorithms = ['ES256']) });
    try {
      expectMisconfigured(await tokenRequest(broker, { grant_type: 'client_credentials' }, etl), /algorithm/);
      expect((await exchange(broker, es384)).status).toBe(400);
    } finally {
      await broker.close();
    }
  });

  it('a listed algorithm is accepted on both paths', async () => {
    const broker = await startBroker(es384, { configure: (c) => void (c.directories.dev!.algorithms = ['ES384']) });
    try {
      expect((await tokenRequest(broker, { grant_type: 'client_credentials' }, etl)).status).toBe(200);
      expect((await exchange(broker, es384)).status).toBe(200);
    } finally {
      await broker.close();
    }
  });
});
