import type { DevDirectory } from '../../scripts/dev-directory.js';
import { DEV_DIRECTORY_AUDIENCE } from '../../scripts/dev-directory.js';
import { basic, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';

/**
 * Each directory names the client authentication methods its clients may use at the broker
 * (`client_credentials.client_auth_methods`); any other method is `invalid_client`, and the RFC 8414 metadata
 * says what is accepted. The real dev directory checks the credentials of what is accepted.
 */

let directory: DevDirectory;
beforeAll(async () => {
  directory = await startDirectory();
});
afterAll(async () => directory.close());

const post = { grant_type: 'client_credentials', client_id: 'demo-etl', client_secret: 'demo-etl-secret' };
const etl = { authorization: basic('demo-etl', 'demo-etl-secret') };

async function brokerAccepting(methods: Array<'client_secret_basic' | 'client_secret_post'>): Promise<Broker> {
  return startBroker(directory, {
    configure: (c) => {
      c.directories.dev!.client_credentials = { audience: DEV_DIRECTORY_AUDIENCE, client_auth_methods: methods };
    },
  });
}

async function metadata(broker: Broker): Promise<Record<string, unknown>> {
  return (await (await fetch(`${broker.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
}

describe('client authentication methods a directory allows', () => {
  describe('client_secret_basic only', () => {
    let broker: Broker;
    beforeAll(async () => {
      broker = await brokerAccepting(['client_secret_basic']);
    });
    afterAll(async () => broker.close());

    it('client-secret-post-not-allowed: invalid_client with a Basic challenge, even with the right secret', async () => {
      const res = await tokenRequest(broker, post);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'invalid_client', error_description: 'client authentication failed' });
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm="airflow-token-broker", error="invalid_client"/);
    });

    it('client_secret_basic still works', async () => {
      expect((await tokenRequest(broker, { grant_type: 'client_credentials' }, etl)).status).toBe(200);
    });

    it('client-secret-post-not-allowed at introspection and revocation too', async () => {
      for (const endpoint of ['introspect', 'revoke']) {
        const res = await fetch(`${broker.url}/oauth2/${endpoint}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token: 'x', client_id: 'demo-etl', client_secret: 'demo-etl-secret' }),
        });
        expect(res.status).toBe(401);
        expect(((await res.json()) as Record<string, unknown>).error).toBe('invalid_client');
      }
    });

    it('the metadata names only client_secret_basic', async () => {
      expect(await metadata(broker)).toMatchObject({
        token_endpoint_auth_methods_supported: ['client_secret_basic'],
        introspection_endpoint_auth_methods_supported: ['client_secret_basic'],
        revocation_endpoint_auth_methods_supported: ['client_secret_basic'],
      });
    });
  });

  describe('client_secret_post only', () => {
    let broker: Broker;
    beforeAll(async () => {
      broker = await brokerAccepting(['client_secret_post']);
    });
    afterAll(async () => broker.close());

    it('client-secret-basic-not-allowed: invalid_client', async () => {
      const res = await tokenRequest(broker, { grant_type: 'client_credentials' }, etl);
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_client');
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm="airflow-token-broker", error="invalid_client"/);
    });

    it('client_secret_post works (the broker still presents the credentials to the directory its own way)', async () => {
      expect((await tokenRequest(broker, post)).status).toBe(200);
    });

    it('the metadata names only client_secret_post', async () => {
      expect(await metadata(broker)).toMatchObject({ token_endpoint_auth_methods_supported: ['client_secret_post'] });
    });
  });

  it('both by default', async () => {
    const broker = await startBroker(directory);
    try {
      expect((await tokenRequest(broker, post)).status).toBe(200);
      expect((await tokenRequest(broker, { grant_type: 'client_credentials' }, etl)).status).toBe(200);
      expect((await metadata(broker)).token_endpoint_auth_methods_supported).toEqual(['client_secret_basic', 'client_secret_post']);
    } finally {
      await broker.close();
    }
  });
});
