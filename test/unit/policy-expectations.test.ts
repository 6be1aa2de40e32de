import { readFileSync } from 'node:fs';
import { formatProblem } from '../../src/config/yaml-source.js';
import { parseExpectations, runExpectations } from '../../src/cli/policy-expectations.js';
import { readPolicyFile } from '../../src/policy/policy-file.js';

const example = readPolicyFile('examples/policy.yaml');

describe('expectation files', () => {
  test('examples/policy.test.txt holds for examples/policy.yaml', async () => {
    const { expectations, problems } = parseExpectations('examples/policy.test.txt', readFileSync('examples/policy.test.txt', 'utf8'));
    expect(problems).toEqual([]);
    expect(expectations.length).toBeGreaterThan(15);
    const failed = (await runExpectations(example, expectations)).filter((r) => !r.passed);
    expect(failed.map((r) => `${r.expectation.line}: ${r.expectation.text}`)).toEqual([]);
  });

  test('a line names who, the expectation, the call and an optional body', () => {
    const { expectations } = parseExpectations('t.txt', '  client:svc-etl group:a group:b sub:u1 directory:corp may (filtered) get /dags\nsvc-x may not POST /variables with {"key": "k"}\nrole:r1 role:r2 may GET /dags/x\n');
    expect(expectations).toEqual([
      { line: 1, text: 'client:svc-etl group:a group:b sub:u1 directory:corp may (filtered) get /dags', identity: { clientId: 'svc-etl', groups: ['a', 'b'], subject: 'u1', directory: 'corp', claims: {} }, roles: undefined, expect: 'filtered', method: 'GET', path: '/dags', body: undefined },
      { line: 2, text: 'svc-x may not POST /variables with {"key": "k"}', identity: { clientId: 'svc-x', groups: [], subject: '', directory: '', claims: {} }, roles: undefined, expect: 'may-not', method: 'POST', path: '/variables', body: { key: 'k' } },
      { line: 3, text: 'role:r1 role:r2 may GET /dags/x', identity: { clientId: '', groups: [], subject: '', directory: '', claims: {} }, roles: ['r1', 'r2'], expect: 'may', method: 'GET', path: '/dags/x', body: undefined },
    ]);
  });

  test('every unreadable line is reported with file:line:column', () => {
    const text = ['# comment', '', 'svc-x can GET /dags', 'svc-x may not (filtered) GET /dags', 'svc-x may (partly) GET /dags', 'svc-x may GET /dags with {nope', 'role:r client:c may GET /dags', 'svc-x may G=T /dags'].join('\n');
    expect(parseExpectations('t.txt', text).problems.map(formatProblem)).toEqual([
      't.txt:3:1 error: expected "<who> may [not] <METHOD> <PATH> [with <JSON body>]"',
      't.txt:4:16 error: "may not" takes no (filtered)/(unfiltered)',
      't.txt:5:12 error: unknown "(partly)": use (filtered) or (unfiltered)',
      't.txt:6:26 error: the body after "with" must be JSON',
      't.txt:7:1 error: role: names the roles directly; do not combine it with identity terms',
      't.txt:8:11 error: "G=T" is not an HTTP method',
    ]);
  });

  test('realm-roles-cannot-be-bound: claim:<pointer>=<value> terms build nested claims that the bindings read', async () => {
    const text = [
      'claim:/realm_access/roles=offline_access claim:/realm_access/roles=airflow-etl may POST /dags/etl_daily/dagRuns',
      'claim:/resource_access/airflow/roles=auditor may GET /dags/report_weekly',
      'claim:/https:~1~1example.com~1roles=audit may GET /dags/anything',
      'claim:/realm_access/roles=airflow-etl-admin may not GET /dags/etl_daily',
      'claim:/realm_access=airflow-etl may not GET /dags/etl_daily',
    ].join('\n');
    const { expectations, problems } = parseExpectations('t.txt', text);
    expect(problems).toEqual([]);
    expect(expectations[0]!.identity.claims).toEqual({ realm_access: { roles: ['offline_access', 'airflow-etl'] } });
    expect(expectations[2]!.identity.claims).toEqual({ 'https://example.com/roles': ['audit'] });
    const results = await runExpectations(readPolicyFile('test/fixtures/policy/claims.yaml'), expectations);
    expect(results.map((r) => [r.passed, r.explanation?.roles])).toEqual([
      [true, ['etl-operator']],
      [true, ['reporting-reader']],
      [true, ['auditor']],
      [true, []],
      [true, []],
    ]);
  });

  test('a claim: term without a valid pointer and "=" is reported', () => {
    const text = ['claim:realm_access.roles=x may GET /dags', 'claim:/realm_access/roles may GET /dags', 'role:r claim:/a=b may GET /dags'].join('\n');
    expect(parseExpectations('t.txt', text).problems.map(formatProblem)).toEqual([
      't.txt:1:1 error: "claim:realm_access.roles=x": write claim:<JSON Pointer>=<value>, e.g. claim:/realm_access/roles=airflow-etl',
      't.txt:2:1 error: "claim:/realm_access/roles": write claim:<JSON Pointer>=<value>, e.g. claim:/realm_access/roles=airflow-etl',
      't.txt:3:1 error: role: names the roles directly; do not combine it with identity terms',
    ]);
  });

  test('mismatches are results that did not pass, with what the proxy would do', async () => {
    const { expectations } = parseExpectations(
      't.txt',
      'group:airflow-etl may DELETE /dags/etl_daily\nsvc-reporting may (unfiltered) GET /dags\nsvc-reporting may (filtered) GET /dags\nsvc-reporting may not GET /dags/a/../b\n',
    );
    const results = await runExpectations(example, expectations);
    expect(results.map((r) => [r.passed, r.explanation?.verdict, r.explanation?.decision.reason, r.error])).toEqual([
      [false, 'deny', 'no-matching-grant', undefined],
      [false, 'filter', 'list-filtered', undefined],
      [true, 'filter', 'list-filtered', undefined],
      [false, undefined, undefined, 'the proxy refuses this path: dot segment in path'],
    ]);
  });
});
