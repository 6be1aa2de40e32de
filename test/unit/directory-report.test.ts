import type { ClientInspection } from '../../src/directory/directory.js';
import { configSchema } from '../../src/config/schema.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { directoryReport } from '../../src/cli/directory-report.js';
import { hintFor } from '../../src/cli/directory-hints.js';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';

const policy = parsePolicy(
  'policy.yaml',
  [
    'version: 1',
    'roles: { etl: {}, reader: {}, ops: {} }',
    'bindings:',
    '  - { role: etl, when: { groups: airflow-etl } }',
    '  - { role: reader, when: { groups: Reporting } }',
    '  - { role: ops, when: { subject: svc-ops } }',
    '',
  ].join('\n'),
);

const config = configSchema.parse({
  issuer: 'https://broker.example',
  policy_file: './policy.yaml',
  directories: { corp: { issuer: 'https://login.example.com/realms/corp', client_credentials: { audience: 'urn:broker' } } },
  upstreams: {},
}).directories.corp!;

function inspection(identity: { subject: string; clientId: string; groups: string[] }, payload: Record<string, unknown> = {}): ClientInspection {
  return {
    discovery: { tokenEndpoint: 'https://login.example.com/token', signingAlgorithms: ['RS256'] },
    token: { header: { alg: 'RS256' }, payload: { iss: config.issuer, aud: 'urn:broker', sub: identity.subject, groups: identity.groups, ...payload }, signatureVerified: true },
    identity: { directory: 'corp', issuer: config.issuer, ...identity },
    problems: [],
  };
}

const report = (i: ClientInspection) => directoryReport({ name: 'corp', config, clientId: i.identity?.clientId ?? 'x', inspection: i, policy });

describe('directory report', () => {
  it('the bindings it shows are the ones the policy applies', () => {
    const r = report(inspection({ subject: 'svc-ops', clientId: 'svc-ops', groups: ['airflow-etl'] }));
    expect(r.bindings.map((b) => [b.role, b.holds])).toEqual([
      ['etl', true],
      ['reader', false],
      ['ops', true],
    ]);
    expect(r.roles).toEqual(policy.rolesFor({ directory: 'corp', subject: 'svc-ops', clientId: 'svc-ops', groups: ['airflow-etl'] }));
    expect(r).toMatchObject({ ok: true, problems: [] });
  });

  it('a group that differs only in case is a near miss, and so a failure although another binding gives a role', () => {
    const r = report(inspection({ subject: 's', clientId: 'svc', groups: ['airflow-etl', 'reporting'] }));
    expect(r.roles).toEqual(['etl']);
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([expect.objectContaining({ code: 'binding_near_miss', expected: 'Reporting', received: 'reporting' })]);
  });

  it('an app role of Entra ID in roles: names claims.groups: roles', () => {
    const r = report(inspection({ subject: 'oid', clientId: 'app', groups: [] }, { roles: ['airflow-etl'] }));
    expect(r.problems[0]).toMatchObject({ code: 'binding_near_miss', received: '/roles' });
    expect(r.problems[0]!.hint).toContain('directories.corp.claims.groups: roles');
  });

  it('a Keycloak service account bound by subject: its sub is a UUID, bind the client id', () => {
    const uuid = '5f0c3a4e-7d2b-4d0e-9f6a-1c2b3d4e5f60';
    const r = report(inspection({ subject: uuid, clientId: 'svc-ops', groups: [] }));
    expect(r.problems).toEqual([expect.objectContaining({ code: 'binding_near_miss', expected: 'svc-ops', received: uuid })]);
    expect(r.notes.join('\n')).toMatch(/the subject is a UUID .*bind and revoke this account by client id \(svc-ops\)/);
  });

  it('no binding at all: no_role, with how to bind it', () => {
    const r = report(inspection({ subject: 's', clientId: 'svc-new', groups: ['elsewhere'] }));
    expect(r.problems).toEqual([expect.objectContaining({ code: 'no_role' })]);
    expect(r.problems[0]!.hint).toContain('when: { client_id: svc-new }');
  });
});

describe('directory hints', () => {
  const ctx = { directory: 'entra', issuer: `https://login.microsoftonline.com/${TENANT}/v2.0` };

  it('an Entra v1 token where v2 is configured: requestedAccessTokenVersion', () => {
    const hint = hintFor({ code: 'issuer_mismatch', message: '', expected: ctx.issuer, received: `https://sts.windows.net/${TENANT}/` }, ctx);
    expect(hint).toMatch(/v1 token: set "requestedAccessTokenVersion": 2/);
  });

  it('a trailing slash', () => {
    const hint = hintFor({ code: 'issuer_mismatch', message: '', expected: 'https://kc.example/realms/corp', received: 'https://kc.example/realms/corp/' }, ctx);
    expect(hint).toMatch(/differ only by a trailing slash/);
  });

  it('another host: KC_HOSTNAME', () => {
    const hint = hintFor({ code: 'issuer_mismatch', message: '', expected: 'http://127.0.0.1:8080/realms/corp', received: 'http://localhost:8080/realms/corp' }, ctx);
    expect(hint).toMatch(/KC_HOSTNAME/);
  });

  it('an Entra audience: the broker app client id', () => {
    const hint = hintFor({ code: 'audience_mismatch', message: '', expected: 'urn:broker', received: '00000003-0000-0000-c000-000000000000' }, ctx);
    expect(hint).toMatch(/Entra ID: a v2 token's aud is the application \(client\) id/);
  });
});
