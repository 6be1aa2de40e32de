import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { TrustedJwksCredentials, type TrustedJwksOptions } from '../../src/airflow/credentials/trusted-jwks.js';
import { SubjectTemplate } from '../../src/airflow/credentials/subject-template.js';
import { configSchema } from '../../src/config/schema.js';
import { KeyStore } from '../../src/keys/key-store.js';
import type { Policy } from '../../src/policy/policy.js';
import type { AirflowRole } from '../../src/policy/vocabulary.js';

/** `identity.auth_manager: fab`: the per-caller tokens name the FAB user and its FAB roles for the companion. */

function callerWith(airflowRole: AirflowRole | undefined) {
  const roles = new Map([['etl-operator', { airflowRole }]]);
  const claims = { sub: 'demo-etl', client_id: 'demo-etl-client' };
  return { subject: 'demo-etl', clientId: 'demo-etl-client', roles: ['etl-operator'], policy: { roles } as unknown as Policy, claims };
}

async function minted(fab: TrustedJwksOptions['fab'], airflowRole: AirflowRole | undefined, subject = '{sub}') {
  const keys = new KeyStore({ dir: mkdtempSync(join(tmpdir(), 'atb-tjfab-')), algorithm: 'ES256', maxTokenTtlMs: 3_600_000 });
  await keys.generate();
  const credentials = new TrustedJwksCredentials(keys, { audience: 'apache-airflow', issuer: undefined, ttlMs: 600_000, defaultRole: 'viewer', fab, subject: SubjectTemplate.parse(subject), now: Date.now });
  return decodeJwt((await credentials.authorization(callerWith(airflowRole))).slice('Bearer '.length));
}

/** The `identity` block of a trusted-jwks upstream as the config loader resolves it. */
function identity(raw: Record<string, unknown>) {
  const config = configSchema.parse({
    issuer: 'https://broker.example.com',
    policy_file: './policy.yaml',
    directories: { corp: { issuer: 'https://login.example.com/realms/corp', client_credentials: { audience: 'urn:broker' } } },
    upstreams: { prod: { audience: 'https://airflow.example.com', url: 'http://airflow:8080', credentials: { mode: 'trusted-jwks', identity: raw } } },
  });
  const credentials = config.upstreams.prod!.credentials!;
  if (credentials.mode !== 'trusted-jwks') throw new Error('not trusted-jwks');
  return credentials.identity;
}

describe('trusted-jwks tokens for the FAB companion', () => {
  it('fab-claims-name-the-caller-and-its-fab-roles', async () => {
    const claims = await minted({ viewer: ['Viewer'], user: ['User', 'Report Readers'], op: ['Op'], admin: ['Admin'] }, 'user');
    expect(claims).toMatchObject({ sub: 'demo-etl', fab_username: 'demo-etl', fab_roles: ['User', 'Report Readers'], role: 'user' });
  });

  it('fab_username is what identity.subject names, like sub', async () => {
    const claims = await minted({ viewer: ['Viewer'], user: ['User'], op: ['Op'], admin: ['Admin'] }, 'user', 'svc-{client_id}');
    expect(claims).toMatchObject({ sub: 'svc-demo-etl-client', fab_username: 'svc-demo-etl-client' });
  });

  it('the default airflow role picks the FAB roles when no policy role names one', async () => {
    const claims = await minted({ viewer: ['Viewer'], user: ['User'], op: ['Op'], admin: ['Admin'] }, undefined);
    expect(claims).toMatchObject({ fab_username: 'demo-etl', fab_roles: ['Viewer'], role: 'viewer' });
  });

  it('simple-auth-manager-tokens-carry-no-fab-claims', async () => {
    const claims = await minted(undefined, 'user');
    expect(claims.fab_username).toBeUndefined();
    expect(claims.fab_roles).toBeUndefined();
    expect(claims).toMatchObject({ sub: 'demo-etl', role: 'user' });
  });

  it('config: auth_manager fab defaults each Airflow role to the FAB role of the same name', () => {
    expect(identity({ auth_manager: 'fab' })).toEqual({ subject: '{sub}', auth_manager: 'fab', fab_roles: { viewer: ['Viewer'], user: ['User'], op: ['Op'], admin: ['Admin'] } });
    expect(identity({ auth_manager: 'fab', fab_roles: { user: ['User', 'ETL'] } }).fab_roles).toEqual({ viewer: ['Viewer'], user: ['User', 'ETL'], op: ['Op'], admin: ['Admin'] });
    expect(identity({}).auth_manager).toBe('simple');
  });

  it('config: an empty FAB role list or an unknown Airflow role is refused', () => {
    expect(() => identity({ auth_manager: 'fab', fab_roles: { user: [] } })).toThrow();
    expect(() => identity({ auth_manager: 'fab', fab_roles: { superuser: ['Admin'] } })).toThrow();
  });
});
