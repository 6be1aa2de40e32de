import { generateKeyPair, SignJWT } from 'jose';
import { apiPathOf, explainCall, formatExplanation, UnexplainableCall } from '../../src/admin/explain-call.js';
import { principalFromClaims, principalFromToken } from '../../src/admin/principal-input.js';
import { parsePolicy, readPolicyFile } from '../../src/policy/policy-file.js';

const example = readPolicyFile('examples/policy.yaml');
const etl = { roles: ['etl-operator'], details: undefined };

describe('paths as admins write them', () => {
  test.each(['/dags/etl_daily', '/api/v2/dags/etl_daily', '/airflow/prod/api/v2/dags/etl_daily', 'https://broker.example/airflow/prod/api/v2/dags/etl_daily'])('%s', (path) => {
    expect(apiPathOf(path).apiPath).toBe('/dags/etl_daily');
  });

  test('the query and the upstream are kept', () => {
    expect(apiPathOf('/airflow/prod/api/v2/dags?dag_id_pattern=etl')).toEqual({ apiPath: '/dags', query: 'dag_id_pattern=etl', upstream: 'prod', version: 'v2' });
    expect(apiPathOf('/airflow/old/api/v1/dags?dag_id_pattern=etl')).toEqual({ apiPath: '/dags', query: 'dag_id_pattern=etl', upstream: 'old', version: 'v1' });
    expect(apiPathOf('/dags')).toEqual({ apiPath: '/dags', query: '', upstream: null, version: null });
  });

  test.each([
    ['/api/v2/dags/../variables', /dot segment/],
    ['/api/v2/dags/a%2Fb', /encoded separator/],
    ['/api/v2', /no API path/],
    ['dags/etl_daily', /origin-form/],
  ])('the proxy refuses %s before deciding', (path, message) => {
    expect(() => apiPathOf(path)).toThrow(UnexplainableCall);
    expect(() => apiPathOf(path)).toThrow(message);
  });
});

describe('input the proxy refuses for the operation', () => {
  test.each([
    ['GET', '/api/v2/dags/etl_daily/dagRuns?limit=1&limit=100', undefined, /may appear only once/],
    ['POST', '/api/v2/dags/etl_daily/favorite', { dag_id: 'x' }, /takes no request body/],
  ])('%s %s is refused before deciding, as the proxy refuses it', async (method, path, body, message) => {
    await expect(explainCall(example, etl, { method, path, body })).rejects.toThrow(UnexplainableCall);
    await expect(explainCall(example, etl, { method, path, body })).rejects.toThrow(message);
  });
});

describe('explain answers what the proxy answers (issue #11)', () => {
  test('explain-refusal-is-the-proxy-refusal: a denial carries the 403 body the proxy sends', async () => {
    const e = await explainCall(example, etl, { method: 'POST', path: '/airflow/prod/api/v2/dags/payroll_monthly/dagRuns', body: { logical_date: null } });
    expect(e.refusal).toEqual({
      error: 'insufficient_scope',
      error_description: 'the token does not allow trigger on dags payroll_monthly (operation trigger_dag_run)',
      reason: 'no-matching-grant',
      operation: 'trigger_dag_run',
      resource: 'dags',
      resource_id: 'payroll_monthly',
      action: 'trigger',
    });
    expect((await explainCall(example, etl, { method: 'GET', path: '/api/v2/dags/etl_daily' })).refusal).toBeUndefined();
  });

  test.each([
    ['HEAD', '/api/v2/dags', /405.*allowed: GET, PATCH/],
    ['PUT', '/api/v1/variables/etl_x', /405.*allowed: DELETE, GET, PATCH/],
  ])('explain-method-not-allowed: %s %s is the proxy\'s 405, before any decision', async (method, path, message) => {
    await expect(explainCall(example, etl, { method, path })).rejects.toThrow(UnexplainableCall);
    await expect(explainCall(example, etl, { method, path })).rejects.toThrow(message);
  });

  test('a public operation says it is served without a token', async () => {
    const e = await explainCall(example, { roles: [], details: undefined }, { method: 'GET', path: '/api/v2/monitor/health' });
    expect(e.verdict).toBe('allow');
    expect(formatExplanation(e)).toContain('get_health (GET /monitor/health): public, served without a token');
    expect(e.notes).toContain('public: the proxy serves it without a token and sends Airflow no credentials');
  });
});

describe('explain on the example policy', () => {
  test('an allowed call names the operation, the ids and the deciding grant', async () => {
    const e = await explainCall(example, etl, { method: 'post', path: '/api/v2/dags/etl_daily/dagRuns', body: { logical_date: null } });
    expect(e.verdict).toBe('allow');
    expect(e.operations).toEqual([{ operationId: 'trigger_dag_run', method: 'POST', template: '/dags/{dag_id}/dagRuns', access: 'policy', resource: 'dags', action: 'trigger', resourceIds: ['etl_daily'] }]);
    expect(e.decision.rule).toEqual({ role: 'etl-operator', effect: 'allow', index: 0, patterns: ['etl_*'], kind: 'dags', actions: ['read', 'trigger', 'clear'] });
    expect(formatExplanation(e)).toBe(
      [
        'request:   POST /api/v2/dags/etl_daily/dagRuns',
        'roles:     etl-operator',
        'operation: trigger_dag_run (POST /dags/{dag_id}/dagRuns): trigger on dags "etl_daily"',
        'verdict:   allow (grant-matched)',
        'rule:      etl-operator allow[0] {dags: ["etl_*"], actions: [read, trigger, clear]}',
        'checks:',
        '  yes trigger on dags "etl_daily": grant-matched, etl-operator allow[0] {dags: ["etl_*"], actions: [read, trigger, clear]}',
        '',
      ].join('\n'),
    );
  });

  test('a list the token sees only part of is filtered, naming the grants items pass through', async () => {
    const e = await explainCall(example, etl, { method: 'GET', path: '/airflow/local/api/v2/dags' });
    expect(formatExplanation(e)).toBe(
      [
        'request:   GET /api/v2/dags (upstream local)',
        'roles:     etl-operator',
        'operation: get_dags (GET /dags): read on all dags',
        'verdict:   allow, filtered (list-filtered)',
        'checks:',
        '  no  read on all dags: no-matching-grant',
        'note: the proxy reads the whole list from Airflow and answers only the dags this token may read, through etl-operator allow[0] {dags: ["etl_*"], actions: [read, trigger, clear]}',
        '',
      ].join('\n'),
    );
  });

  test('a backfill id cannot be resolved offline, and the explanation says so', async () => {
    const e = await explainCall(example, etl, { method: 'GET', path: '/backfills/7' });
    expect(e).toMatchObject({ verdict: 'deny', decision: { reason: 'resource-id-unresolved' } });
    expect(e.operations[0]).toMatchObject({ operationId: 'get_backfill', unresolved: 'backfill_id could not be resolved' });
    expect(e.notes).toContainEqual(expect.stringMatching(/^backfill 7: the proxy looks its DAG up at Airflow; offline it is unknown/));
  });

  test('a path with two meanings lists both, and both must be allowed', async () => {
    const e = await explainCall(example, etl, { method: 'GET', path: '/connections/enqueue-test' });
    expect(e.operations.map((o) => o.operationId)).toEqual(['get_connection_test', 'get_connection']);
    expect(e.notes).toContain('the path can mean 2 operations; the proxy allows it only if every one is allowed');
  });

  test('an unknown operation is denied as such', async () => {
    const e = await explainCall(example, etl, { method: 'GET', path: '/not-an-endpoint' });
    expect(e).toMatchObject({ verdict: 'deny', decision: { reason: 'unknown-operation' }, operations: [] });
  });
});

describe('deny rules and narrowing', () => {
  const policy = parsePolicy(
    'p.yaml',
    'version: 1\nroles:\n  auditor:\n    allow:\n      - dags: ["*"]\n        actions: [read]\n    deny:\n      - dags: ["payroll_*"]\n        actions: [read]\n',
  );

  test('the deny that wins is named', async () => {
    const e = await explainCall(policy, { roles: ['auditor'], details: undefined }, { method: 'GET', path: '/dags/payroll_monthly' });
    expect(e.decision).toEqual({
      allowed: false,
      filtered: false,
      reason: 'deny-rule-matched',
      rule: { role: 'auditor', effect: 'deny', index: 0, patterns: ['payroll_*'], kind: 'dags', actions: ['read'] },
    });
  });

  test('authorization_details narrow the roles', async () => {
    const details = [{ type: 'airflow' as const, dags: ['etl_daily'], actions: ['read'] }];
    const e = await explainCall(policy, { roles: ['auditor'], details }, { method: 'GET', path: '/dags/report_weekly' });
    expect(e.decision.reason).toBe('outside-authorization-details');
    expect(e.notes).toContain('the token is narrowed by authorization_details: a check must also fall within them');
  });
});

describe('who is asking', () => {
  test('a token is decoded, not verified, and says so', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const token = await new SignJWT({ scope: 'etl-operator', client_id: 'demo-etl', authorization_details: [{ type: 'airflow', dags: ['etl_daily'], actions: ['read'] }] })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' })
      .setSubject('demo-etl')
      .setAudience('http://127.0.0.1:8400/airflow/local')
      .setExpirationTime(2_000_000_000)
      .sign(privateKey);
    const who = principalFromToken(token, 1_000_000_000_000);
    expect(who.principal).toEqual({ roles: ['etl-operator'], details: [{ type: 'airflow', dags: ['etl_daily'], actions: ['read'] }] });
    expect(who.source).toBe('token of client_id demo-etl, sub demo-etl, aud http://127.0.0.1:8400/airflow/local (decoded offline: signature NOT verified)');
    expect(principalFromToken(token, 2_000_000_000_000).source).toMatch(/, expired \(decoded offline/);
  });

  test('jws-padding-appended-to-signature: explain refuses what the proxy refuses', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const token = await new SignJWT({ scope: 'etl-operator' }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' }).sign(privateKey);
    expect(principalFromToken(`${token}\n`).principal.roles).toEqual(['etl-operator']); // stdin's newline is trimmed
    expect(() => principalFromToken(`${token}==`)).toThrow(/--token: not a JWT \(the proxy accepts only the strict compact serialization\)/);
  });

  test('a token without scope, or not a JWT, is refused', () => {
    expect(() => principalFromToken('not.a.jwt')).toThrow(/--token: not a JWT/);
  });

  test('identity claims go through the bindings; scope is taken as the roles', () => {
    expect(principalFromClaims(example, 'c.yaml', 'client_id: demo-etl\ngroups: [airflow-etl]\n').principal.roles).toEqual(['etl-operator']);
    expect(principalFromClaims(example, 'c.json', '{"client_id": "svc-reporting"}').principal.roles).toEqual(['reporting-reader']);
    expect(principalFromClaims(example, 'c.json', '{"scope": "reporting-reader etl-operator"}').principal.roles).toEqual(['reporting-reader', 'etl-operator']);
    expect(() => principalFromClaims(example, 'c.json', '{"iss": "x"}')).toThrow('c.json: needs scope, or identity claims (client_id, sub, groups, directory)');
    expect(() => principalFromClaims(example, 'c.json', '{"scope": "x", "authorization_details": [{"type": "other"}]}')).toThrow(/authorization_details: .*unsupported type/);
  });

  test('realm-roles-cannot-be-bound: nested claims reach when.claims as the broker hands them a directory token', () => {
    const claimsPolicy = readPolicyFile('test/fixtures/policy/claims.yaml');
    const roles = (text: string) => principalFromClaims(claimsPolicy, 'c.yaml', text).principal.roles;
    expect(roles('realm_access: { roles: [offline_access, airflow-etl] }\n')).toEqual(['etl-operator']);
    expect(roles('{"resource_access": {"airflow": {"roles": ["reader"]}}, "https://example.com/roles": ["audit"]}')).toEqual(['reporting-reader', 'auditor']);
    expect(roles('client_id: svc\nrealm_access: { roles: [airflow-etl-admin] }\n')).toEqual([]);
    // A claim no binding reads identifies nobody, as before.
    expect(() => roles('{"iss": "x", "nested": {"roles": ["airflow-etl"]}}')).toThrow(/needs scope, or identity claims/);
  });
});

describe('explain on a deployment', () => {
  const limited = readPolicyFile('test/fixtures/policy/warnings/deployment-limits.yaml');
  const trigger = (path: string, deployment?: string) => explainCall(limited, etl, { method: 'POST', path, body: { logical_date: null }, deployment });

  test('on staging the deny limited to staging decides, the rule shows its deployments, and the prod-only allow is noted', async () => {
    const e = await trigger('/airflow/staging/api/v2/dags/etl_daily/dagRuns');
    expect(e.request.upstream).toBe('staging');
    expect(formatExplanation(e)).toBe(
      [
        'request:   POST /api/v2/dags/etl_daily/dagRuns (upstream staging)',
        'roles:     etl-operator',
        'operation: trigger_dag_run (POST /dags/{dag_id}/dagRuns): trigger on dags "etl_daily"',
        'verdict:   deny (deny-rule-matched)',
        'rule:      etl-operator deny[0] {dags: ["etl_*"], actions: [trigger], deployments: [staging]}',
        'answer:    403 the token does not allow trigger on dags etl_daily (operation trigger_dag_run)',
        'checks:',
        '  no  trigger on dags "etl_daily": deny-rule-matched, etl-operator deny[0] {dags: ["etl_*"], actions: [trigger], deployments: [staging]}',
        'note: on deployment staging these grants do not apply (limited to other deployments): etl-operator allow[0] {dags: ["etl_*"], actions: [read, trigger], deployments: [prod]}',
        '',
      ].join('\n'),
    );
    const onProd = await trigger('/dags/etl_daily/dagRuns', 'prod');
    expect(onProd).toMatchObject({ verdict: 'allow', request: { upstream: 'prod' }, decision: { reason: 'grant-matched', rule: { index: 0, deployments: ['prod'] } } });
  });

  test('an allow limited elsewhere is the reason, and a deny limited elsewhere is noted', async () => {
    const e = await trigger('/dags/etl_daily/dagRuns', 'qa');
    expect(e).toMatchObject({ verdict: 'deny', decision: { reason: 'grant-limited-to-other-deployments', rule: { role: 'etl-operator', effect: 'allow', index: 0, deployments: ['prod'] } } });
    expect(e.notes).toContain('on deployment qa these grants do not apply (limited to other deployments): etl-operator allow[0] {dags: ["etl_*"], actions: [read, trigger], deployments: [prod]}; etl-operator deny[0] {dags: ["etl_*"], actions: [trigger], deployments: [staging]}');
  });

  test('with no deployment named, limited grants do not apply and the explanation says how to name one', async () => {
    const e = await trigger('/dags/etl_daily/dagRuns');
    expect(e).toMatchObject({ verdict: 'deny', request: { upstream: null }, decision: { reason: 'grant-limited-to-other-deployments' } });
    expect(e.notes).toContainEqual(expect.stringMatching(/^no deployment named \(a \/airflow\/<upstream>\/api\/v2 path or the deployment option\): grants limited to deployments do not apply/));
    // The example policy limits nothing, so it needs no deployment.
    expect((await explainCall(example, etl, { method: 'GET', path: '/dags/etl_daily' })).notes).toEqual([]);
  });

  test('a deployment option contradicting the path is refused', async () => {
    await expect(trigger('/airflow/prod/api/v2/dags/etl_daily/dagRuns', 'staging')).rejects.toThrow(UnexplainableCall);
    await expect(trigger('/airflow/prod/api/v2/dags/etl_daily/dagRuns', 'staging')).rejects.toThrow('the path names upstream prod, the deployment option staging');
  });
});

describe('explain on an Airflow 2 deployment (/api/v1)', () => {
  const apis = { old: 'v1', prod: 'v2' } as const;

  test.each(['/api/v1/dags/etl_daily/dagRuns', '/airflow/old/api/v1/dags/etl_daily/dagRuns'])('%s is decided with the v1 catalog', async (path) => {
    const e = await explainCall(example, etl, { method: 'POST', path, body: {} }, apis);
    expect(e.operations.map((o) => o.operationId)).toEqual(['post_dag_run']);
    expect(e.request.api).toBe('v1');
    expect(e.verdict).toBe('allow');
    expect(formatExplanation(e).split('\n')[0]).toMatch(/^request: {3}POST \/api\/v1\/dags\/etl_daily\/dagRuns/);
  });

  test('a bare path on a deployment configured as v1 is read as v1', async () => {
    const e = await explainCall(example, etl, { method: 'GET', path: '/dagSources/some-token', deployment: 'old' }, apis);
    expect(e.operations.map((o) => o.operationId)).toEqual(['get_dag_source']);
    expect(e.verdict).toBe('deny');
  });

  test.each([
    ['/airflow/old/api/v2/dags', undefined, /upstream old serves \/api\/v1: the proxy answers 404 for \/api\/v2/],
    ['/api/v1/dags', 'prod', /upstream prod serves \/api\/v2: the proxy answers 404 for \/api\/v1/],
    ['/api/v1', undefined, /no API path below \/api\/v1/],
  ])('%s (deployment %s) is refused as the proxy refuses it', async (path, deployment, message) => {
    await expect(explainCall(example, etl, { method: 'GET', path, deployment }, apis)).rejects.toThrow(message);
  });

  test('a v1-only operation is unknown on v2', async () => {
    const e = await explainCall(example, etl, { method: 'PATCH', path: '/api/v2/dags/etl_daily/dagRuns/r/setNote', body: {} });
    expect(e.operations).toEqual([]);
    expect(e.verdict).toBe('deny');
  });
});
