import { resolve } from 'node:path';
import type { DevDirectory, DevServiceAccount } from '../../scripts/dev-directory.js';
import { basic, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';

/**
 * Regression (issue #8 item 1): a binding read one top-level claim, so Keycloak's realm roles
 * (`realm_access.roles`) and client roles (`resource_access.<client>.roles`) matched nothing. Through the real
 * broker and a real OpenID provider issuing those claims as Keycloak does, a policy bound to `/realm_access/roles`
 * grants exactly the bound roles, on both grants, and nothing for other values or shapes.
 */

/** The Keycloak-shaped role claims each service account's access token carries. */
const ROLE_CLAIMS: Record<string, Record<string, unknown>> = {
  'demo-etl': { realm_access: { roles: ['offline_access', 'airflow-etl'] }, resource_access: { account: { roles: ['view-profile'] } } },
  'svc-reporting': { realm_access: { roles: ['offline_access'] }, resource_access: { airflow: { roles: ['reader'] } } },
  // A realm role of another name, and the bound client role under another client.
  'svc-other': { realm_access: { roles: ['airflow-etl-admin', 'Airflow-ETL'] }, resource_access: { other: { roles: ['reader'] } } },
  // The right names in shapes that are no list of strings.
  'svc-shapes': { realm_access: { roles: { 'airflow-etl': true } }, resource_access: { airflow: { roles: [['reader']] } } },
};
const accounts: DevServiceAccount[] = Object.keys(ROLE_CLAIMS).map((clientId) => ({ clientId, secret: `${clientId}-secret`, groups: [] }));
const auth = (clientId: string) => ({ authorization: basic(clientId, `${clientId}-secret`) });

let directory: DevDirectory;
let broker: Broker;
let byGroupsPointer: Broker;

beforeAll(async () => {
  directory = await startDirectory({
    accounts,
    customizeAccessToken: (payload) => void Object.assign(payload, ROLE_CLAIMS[payload.client_id as string]),
  });
  broker = await startBroker(directory, { policyFile: resolve('test/fixtures/policy/claims.yaml') });
  // The directory's groups claim named by a pointer: `when.groups` of the example policy reads the realm roles.
  byGroupsPointer = await startBroker(directory, { configure: (c) => void (c.directories.dev!.claims = { groups: '/realm_access/roles' }) });
});
afterAll(async () => {
  await broker.close();
  await byGroupsPointer.close();
  await directory.close();
});

const directoryToken = (clientId: string) =>
  fetch(`${directory.issuer}/token`, { method: 'POST', headers: { ...auth(clientId), 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' })
    .then((r) => r.json() as Promise<{ access_token: string }>)
    .then((b) => b.access_token);

const exchange = async (clientId: string) =>
  tokenRequest(broker, {
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: await directoryToken(clientId),
    subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
  });

describe('when.claims through the broker', () => {
  it('realm-roles-cannot-be-bound: a realm role bound at /realm_access/roles grants exactly that role (client credentials)', async () => {
    const res = await tokenRequest(broker, { grant_type: 'client_credentials' }, auth('demo-etl'));
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('etl-operator');
  });

  it('realm-roles-cannot-be-bound: a client role bound at /resource_access/airflow/roles grants exactly that role', async () => {
    const res = await tokenRequest(broker, { grant_type: 'client_credentials' }, auth('svc-reporting'));
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('reporting-reader');
  });

  it('realm-roles-cannot-be-bound: token exchange binds on the subject token\'s claims alike', async () => {
    const etl = await exchange('demo-etl');
    expect(etl.status).toBe(200);
    expect(etl.body.scope).toBe('etl-operator');
    expect((await exchange('svc-reporting')).body.scope).toBe('reporting-reader');
  });

  it.each(['svc-other', 'svc-shapes'])('%s: other values, another client\'s roles and other shapes grant nothing', async (clientId) => {
    for (const res of [await tokenRequest(broker, { grant_type: 'client_credentials' }, auth(clientId)), await exchange(clientId)]) {
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_scope');
    }
  });

  it('a role bound elsewhere cannot be asked for', async () => {
    const res = await tokenRequest(broker, { grant_type: 'client_credentials', scope: 'reporting-reader' }, auth('demo-etl'));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_scope', error_description: 'not granted to this identity: reporting-reader' });
  });
});

describe('directories.<name>.claims.groups as a JSON Pointer', () => {
  it('realm-roles-cannot-be-bound: when.groups reads the realm roles', async () => {
    const res = await tokenRequest(byGroupsPointer, { grant_type: 'client_credentials' }, auth('demo-etl'));
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('etl-operator');
    const other = await tokenRequest(byGroupsPointer, { grant_type: 'client_credentials' }, auth('svc-other'));
    expect(other.status).toBe(400);
    expect(other.body.error).toBe('invalid_scope');
  });
});
