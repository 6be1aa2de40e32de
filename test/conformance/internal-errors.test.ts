import type { DevDirectory } from '../../scripts/dev-directory.js';
import { OAuthError } from '../../src/errors/oauth-error.js';
import { MemoryRevocationStore } from '../../src/tokens/revocation-store.js';
import { basic, PROD_AUDIENCE, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';
import { capturedLogger } from '../helpers/captured-logger.js';

/**
 * Internal error text never reaches a caller: an error that is not marked `expose` is answered as a bare
 * `server_error`, and its detail goes to the log at error level. Errors meant for callers (a dependency that is
 * down) keep their description.
 */

/** A revocation store that breaks with an internal message on every read: an injected failing dependency. */
class BrokenRevocationStore extends MemoryRevocationStore {
  override async isRevoked(): Promise<boolean> {
    throw new Error('SQLITE_CORRUPT: database disk image is malformed (/var/lib/atb/revocations.sqlite)');
  }
}

/** A store whose issuance-block read fails with one of our own server errors carrying an internal description. */
class MisbuiltRevocationStore extends MemoryRevocationStore {
  override async blockOn(): Promise<undefined> {
    throw new OAuthError('server_error', 'issuance_blocks table missing in /var/lib/atb/revocations.sqlite (schema v2)');
  }
}

let directory: DevDirectory;
beforeAll(async () => {
  directory = await startDirectory();
});
afterAll(async () => {
  await directory.close();
});

describe('internal errors', () => {
  let broker: Broker | undefined;
  afterEach(async () => {
    await broker?.close();
    broker = undefined;
  });

  it('server-error-description-withheld: a server_error with an internal description is answered bare', async () => {
    const log = capturedLogger();
    broker = await startBroker(directory, { overrides: { logger: log.logger, revocations: new MisbuiltRevocationStore() } });
    const res = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('demo-etl', 'demo-etl-secret') });
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: 'server_error' });
    expect(log.at('error').some((l) => l.includes('issuance_blocks table missing') && l.includes('"code":"server_error"'))).toBe(true);
  });

  it('unusable-directory-token-is-a-dependency-failure: 503 saying so, never a 500, the reason in the log', async () => {
    // The directory's token carries its groups claim in a shape no binding can read: the directory's fault.
    const odd = await startDirectory({ customizeAccessToken: (payload) => void (payload.groups = { 'airflow-etl': true }) });
    const log = capturedLogger();
    try {
      broker = await startBroker(odd, { overrides: { logger: log.logger } });
      const res = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('demo-etl', 'demo-etl-secret') });
      expect([res.status, res.body.error, res.headers.get('retry-after')]).toEqual([503, 'temporarily_unavailable', '30']);
      expect(res.body.error_description).toBe('the central directory answered with a token this broker cannot use; the broker log says why');
      expect(log.at('warn').some((l) => l.includes('claim groups is not an array of strings'))).toBe(true);
    } finally {
      await odd.close();
    }
  });

  it('unexpected-error-at-the-proxy: a failing dependency\'s message is logged, never answered', async () => {
    const log = capturedLogger();
    broker = await startBroker(directory, {
      // A proxied deployment nobody listens at: the failure happens before any upstream call.
      configure: (c) => {
        c.upstreams.prod = { audience: PROD_AUDIENCE, url: 'http://127.0.0.1:9', credentials: { mode: 'trusted-jwks' } };
      },
      overrides: { logger: log.logger, revocations: new BrokenRevocationStore() },
    });
    const token = (await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('demo-etl', 'demo-etl-secret') })).body.access_token as string;
    const res = await fetch(`${broker.url}/airflow/prod/api/v2/dags/etl_daily`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ error: 'server_error' });
    expect(log.at('error').some((l) => l.includes('SQLITE_CORRUPT: database disk image is malformed'))).toBe(true);
  });

  it('dependency-errors-keep-their-description: a directory outage still says so', async () => {
    const log = capturedLogger();
    broker = await startBroker({ issuer: 'http://127.0.0.1:9' }, { overrides: { logger: log.logger } });
    const res = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('demo-etl', 'demo-etl-secret') });
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ error: 'temporarily_unavailable', error_description: 'the central directory is unavailable, retry later' });
    expect(res.headers.get('retry-after')).not.toBeNull();
  });
});
