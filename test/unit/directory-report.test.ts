import type { ClientInspection } from '../../src/directory/directory.js';
import { configSchema } from '../../src/config/schema.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { directoryReport, formatDirectoryReport } from '../../src/cli/directory-report.js';
import { hintFor } from '../../src/cli/directory-hints.js';
import { expectationProblems, tokenProblem } from '../../src/directory/client-inspection.js';
import { OAuthError } from '../../src/errors/oauth-error.js';

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

function inspection(identity: { subject: string; clientId: string; groups: string[] }, extra: Record<string, unknown> = {}): ClientInspection {
  const payload = { iss: config.issuer, aud: 'urn:broker', sub: identity.subject, groups: identity.groups, ...extra };
  // The verified claims travel with the identity (when.claims bindings read them).
  const claims = { claims: payload };
  return {
    discovery: { tokenEndpoint: 'https://login.example.com/token', signingAlgorithms: ['RS256'], acceptedAlgorithms: null },
    token: { header: { alg: 'RS256' }, payload, signatureVerified: true },
    identity: { directory: 'corp', issuer: config.issuer, ...identity, ...claims },
    problems: [],
  };
}

const report = (i: ClientInspection) => directoryReport({ name: 'corp', config, clientId: i.identity?.clientId ?? 'x', inspection: i, policy });

describe('directory report', () => {
  it('the bindings it shows are the ones the policy applies', () => {
    const seen = inspection({ subject: 'svc-ops', clientId: 'svc-ops', groups: ['airflow-etl'] });
    const r = report(seen);
    expect(r.bindings.map((b) => [b.role, b.holds])).toEqual([
      ['etl', true],
      ['reader', false],
      ['ops', true],
    ]);
    expect(r.roles).toEqual(policy.rolesFor(seen.identity!));
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

describe('client inspection', () => {
  const jws = { header: { alg: 'ES512', kid: 'k1' }, payload: { iss: 'https://kc/realms/corp', aud: 'account' } };
  const expected = { issuer: 'https://kc/realms/corp', audience: 'urn:broker', algorithms: ['RS256', 'ES256'] };

  it('names every expectation the token misses, with both values', () => {
    expect(expectationProblems(jws, expected)).toEqual([
      expect.objectContaining({ code: 'audience_mismatch', expected: 'urn:broker', received: 'account' }),
      expect.objectContaining({ code: 'algorithm_not_allowed', expected: ['RS256', 'ES256'], received: 'ES512' }),
    ]);
    expect(expectationProblems(jws, { ...expected, algorithms: undefined })).toHaveLength(1);
  });

  it("a refusal that carries no jose error adds nothing once the expectations explain it, else it is named", () => {
    const refusal = new OAuthError('temporarily_unavailable', "the central directory's tokens are not issued for this broker", { cause: new Error('aud "account"') });
    expect(tokenProblem(refusal, jws, () => false, true)).toBeUndefined();
    expect(tokenProblem(refusal, jws, () => false, false)).toMatchObject({ code: 'token_refused', message: 'aud "account"' });
  });

  it('a key set failure is told apart from the token by the predicate, through any wrapping', () => {
    class KeySetDown extends Error {}
    const err = new OAuthError('temporarily_unavailable', 'unavailable', { cause: new KeySetDown('jwks 500') });
    expect(tokenProblem(err, jws, (e) => e instanceof KeySetDown, false)).toMatchObject({ code: 'key_set_unreadable' });
  });
});

describe('directory report text', () => {
  it('prints no control character a directory put into a claim', () => {
    const r = report(inspection({ subject: 's', clientId: 'svc', groups: ['airflow-etl\u001b[2J'] }));
    const text = formatDirectoryReport(r);
    expect(text).toContain('airflow-etl?[2J');
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
  });
});
