import { freePort, type AirflowServer } from '../helpers/airflow-server.js';
import { companionAirflow2Timeout as timeout, startCompanionAirflow2, triggerOwners, v1 as call } from '../helpers/companion-airflow2.js';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { basic, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';

/**
 * The companion's Airflow 2 auth backend in the set-up "through the proxy": the broker's own `trusted-jwks` minting
 * (the Deployment's credentials, `identity.auth_manager: fab`) signs a per-caller token with the Airflow key set
 * (`/airflow/jwks.json`, `typ: JWT`, `fab_username`, `fab_roles`), and a real Airflow 2.11 with provisioning on
 * turns it into a FAB user. The proxy's v1 routes themselves are tested by the proxy's own acceptance tests.
 */

const JWT_ISSUER = 'https://broker.example/airflow';
const JWT_AUDIENCE = 'apache-airflow';
let airflow: AirflowServer;
let directory: DevDirectory;
let broker: Broker;

beforeAll(async () => {
  directory = await startDirectory();
  const port = await freePort();
  broker = await startBroker(directory, {
    configure: (c) => {
      c.upstreams.prod = {
        ...c.upstreams.prod!,
        url: `http://127.0.0.1:${port}`,
        credentials: {
          mode: 'trusted-jwks',
          jwt_audience: JWT_AUDIENCE,
          jwt_issuer: JWT_ISSUER,
          default_airflow_role: 'user',
          identity: { auth_manager: 'fab' },
        },
      };
    },
  });
  airflow = await startCompanionAirflow2(
    { jwks_url: `${broker.url}/airflow/jwks.json`, issuer: JWT_ISSUER, audience: JWT_AUDIENCE, fab_provision: 'True', fab_provision_roles: 'Viewer, User' },
    { port },
  );
}, timeout);

afterAll(async () => {
  await broker?.close();
  await directory?.close();
  await airflow?.stop();
}, timeout);

/** The Authorization header the proxy would send to Airflow for this caller (the broker's real minting code). */
async function perCallerAuthorization(subject: string): Promise<string> {
  const credentials = broker.services.deployments.get('prod')!.credentials;
  return credentials.authorization({ subject, clientId: subject, roles: [], policy: broker.services.policies.current(), claims: { sub: subject } });
}

function v1(path: string, authorization: string, init: RequestInit = {}): Promise<Response> {
  return call(airflow, path, authorization, init);
}

describe('Airflow 2.11 trusting the broker\'s per-caller tokens through the companion backend', () => {
  it('a per-caller token provisions its FAB user with the allow-listed fab_roles and acts as it', async () => {
    const authorization = await perCallerAuthorization('demo-etl');
    const dags = await v1('/dags', authorization);
    expect(dags.status).toBe(200);
    expect(((await dags.json()) as { total_entries: number }).total_entries).toBe(4);
    const trigger = await v1('/dags/etl_daily/dagRuns', authorization, { method: 'POST', body: JSON.stringify({ dag_run_id: `per-caller-${Date.now()}` }) });
    expect(trigger.status).toBe(200);

    const admin = basic('admin', 'admin-pass');
    const user = await v1('/users/demo-etl', admin);
    expect(user.status).toBe(200);
    expect(((await user.json()) as { roles: { name: string }[] }).roles.map((r) => r.name)).toEqual(['User']);
    expect(await triggerOwners(airflow, 'etl_daily')).toContain('demo-etl');
  });

  it("a client's broker access token is refused where per-caller tokens are expected (typ at+jwt, other key set)", async () => {
    const res = await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('demo-etl', 'demo-etl-secret') });
    expect(res.status).toBe(200);
    const answer = await v1('/dags', `Bearer ${res.body.access_token as string}`);
    expect(answer.status).toBe(401);
    expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
  });
});
