import { resolve } from 'node:path';
import { tokenRequest, type Broker } from '../helpers/broker-harness.js';
import { clientCredentialsAt, KC, KEYCLOAK_START_TIMEOUT_MS, startBrokerOnKeycloak, startKeycloak, type KeycloakServer } from '../helpers/keycloak-server.js';

/**
 * Issue 8 items 1 and 3 against a real Keycloak: bindings on Keycloak's nested role claims by JSON Pointer
 * (`when: { claims: { "/realm_access/roles": ... } }`), and the refusal of a token without the broker's audience.
 * The realm (test/fixtures/keycloak/airflow-realm.json): svc-etl is in group airflow-etl (realm role airflow-etl,
 * client role airflow/operator), svc-reporting in group reporting (realm role airflow-reporting, client role
 * airflow/reader), svc-unbound in no group, svc-no-audience in airflow-etl but without the audience mapper.
 */

const TE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

let kc: KeycloakServer;
let broker: Broker;

beforeAll(async () => {
  kc = await startKeycloak();
  broker = await startBrokerOnKeycloak(kc, { policyFile: resolve('test/fixtures/policy/keycloak-role-claims.yaml') });
}, KEYCLOAK_START_TIMEOUT_MS);
afterAll(async () => {
  await broker?.close();
  await kc?.stop();
});

const clientCredentials = (client: { id: string; secret: string }) => clientCredentialsAt(broker, client);

describe('Keycloak realm and client roles in bindings', () => {
  it('a binding on /realm_access/roles grants exactly the role of the realm role', async () => {
    const res = await clientCredentials(KC.etl);
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('etl-operator');
  });

  it('a binding on /resource_access/airflow/roles matches a client role in the array', async () => {
    const res = await clientCredentials(KC.reporting);
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('reporting-reader');
  });

  it("Keycloak's default realm roles (default-roles-airflow, offline_access) bind nothing", async () => {
    const res = await clientCredentials(KC.unbound);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_scope');
  });

  it("a user's exchanged access token is bound by its realm role", async () => {
    const { access } = await kc.login();
    const res = await tokenRequest(broker, { grant_type: TE, subject_token: access, subject_token_type: ACCESS_TOKEN });
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('etl-operator');
  });
});

describe('Keycloak client without the audience mapper', () => {
  it("a-missing-audience-mapper-answers-500: the token's aud is Keycloak's default (account): refused with an OAuth error, not 500", async () => {
    const direct = await kc.token({ grant_type: 'client_credentials' }, KC.noAudience);
    expect(direct.body.access_token).toBeDefined();
    const res = await clientCredentials(KC.noAudience);
    // The broker's documented answer to a directory token for another audience (a dependency misconfiguration).
    expect([res.status, res.body.error]).toEqual([503, 'temporarily_unavailable']);
    expect(res.body.error_description).toMatch(/not issued for this broker \(audience\)/);
  });
});
