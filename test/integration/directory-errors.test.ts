import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { basic, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';

/**
 * The directory's RFC 6749 answers to the client-credentials check are mapped faithfully: the caller's fault
 * stays the caller's (invalid_client, unauthorized_client, invalid_request), a refusal of the broker's own
 * request is a server-side problem (503 saying so), and only an unreachable directory is "unavailable".
 */
let directory: DevDirectory;
let broker: Broker;
let misconfigured: Broker;

/** Answers like Keycloak for a client whose service account is disabled (oidc-provider has no such answer). */
const KEYCLOAK_STYLE = 'svcNoServiceAccount';

beforeAll(async () => {
  directory = await startDirectory({
    accounts: [
      { clientId: 'demo-etl', secret: 'demo-etl-secret', groups: ['airflow-etl'] },
      // A web application registered for the authorization code flow only.
      { clientId: 'web-app', secret: 'web-app-secret', groups: [], grantTypes: ['authorization_code'] },
    ],
  });
  const provider = directory.server.listeners('request')[0] as (req: IncomingMessage, res: ServerResponse) => void;
  directory.server.removeAllListeners('request');
  directory.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/token' && req.headers.authorization === basic(KEYCLOAK_STYLE, 'secret')) {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"unauthorized_client","error_description":"Client not enabled to retrieve service account"}');
    } else provider(req, res);
  });
  broker = await startBroker(directory);
  // The broker asks the directory for a resource it does not know: the broker's configuration is wrong.
  misconfigured = await startBroker(directory, { configure: (c) => void (c.directories.dev!.client_credentials!.resource = 'not-a-uri') });
});
afterAll(async () => {
  await broker.close();
  await misconfigured.close();
  await directory.close();
});

describe('the directory refuses the client', () => {
  it('wrong secret stays invalid_client (401)', async () => {
    const res = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('demo-etl', 'wrong') });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
  });

  it('directory-errors-mapped-to-the-wrong-code: unauthorized_client from the directory stays unauthorized_client (400)', async () => {
    const res = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic(KEYCLOAK_STYLE, 'secret') });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('unauthorized_client');
  });

  it('directory-errors-mapped-to-the-wrong-code: a client the directory does not allow client_credentials is invalid_request (400) with its reason', async () => {
    const res = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('web-app', 'web-app-secret') });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
    expect(res.body.error_description).toMatch(/requested grant type is not allowed for this client/);
  });

  it('very-long-client-id: refused by the directory (HTTP 431) is invalid_client, not "directory unavailable"', async () => {
    const res = await tokenRequest(broker, { grant_type: 'client_credentials', client_id: 'x'.repeat(15_000), client_secret: 's' });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
  });
});

describe("the directory refuses the broker's own request", () => {
  it('directory-errors-mapped-to-the-wrong-code: invalid_target for the configured resource is 503 naming the configuration, not invalid_client', async () => {
    const res = await tokenRequest(misconfigured, { grant_type: 'client_credentials' }, { authorization: basic('demo-etl', 'demo-etl-secret') });
    expect(res.status).toBe(503);
    expect(res.body.error).toBe('temporarily_unavailable');
    expect(res.body.error_description).toMatch(/configuration/);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('discovery refused', () => {
  it("a directory answering the broker's discovery with 401 is unavailable (503), never the caller's invalid_client", async () => {
    const refusing = createServer((_req, res) => void res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client"}'));
    await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r));
    const b = await startBroker({ issuer: `http://127.0.0.1:${(refusing.address() as AddressInfo).port}` });
    try {
      const res = await tokenRequest(b, { grant_type: 'client_credentials' }, { authorization: basic('demo-etl', 'demo-etl-secret') });
      expect(res.status).toBe(503);
      expect(res.body.error).toBe('temporarily_unavailable');
    } finally {
      await b.close();
      refusing.close();
    }
  });
});
