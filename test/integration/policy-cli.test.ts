import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { diffPolicies, formatPolicyDiff } from '../../src/policy/policy-diff.js';
import { readPolicyFile } from '../../src/policy/policy-file.js';
import { runCli as cli } from '../helpers/run-cli.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'atb-policy-cli-'));

/** What `policy check` says once about a version-1 policy that grants `trigger` or `edit` on DAGs. */
const version1Hint = (file: string, line: number, roles: string) =>
  `${file}:${line}:1 warning: version: version 1: "trigger" also creates backfills (over any date range) and "edit" also pauses, unpauses and cancels them (roles ${roles}); ` +
  'to give backfills their own action write "version: 2" and add "backfill" to the dags grants that should keep them (policy diff shows what changes)\n';

describe('policy check', () => {
  it('accepts the example policy, saying how to move it to version 2', async () => {
    const res = await cli(['policy', 'check', 'examples/policy.yaml']);
    expect(res).toEqual({ code: 0, stdout: 'examples/policy.yaml: ok (2 roles, 2 bindings, 1 warning)\n', stderr: version1Hint('examples/policy.yaml', 2, 'etl-operator') });
  });

  it('backfills-hide-inside-trigger: a version-2 policy has no version warning', async () => {
    const res = await cli(['policy', 'check', 'test/fixtures/policy/backfill-v2.yaml']);
    expect(res).toEqual({ code: 0, stdout: 'test/fixtures/policy/backfill-v2.yaml: ok (2 roles, 2 bindings)\n', stderr: '' });
  });

  it('lists every error with file:line:column and exits 1', async () => {
    const res = await cli(['policy', 'check', 'test/fixtures/policy/several-problems.yaml']);
    expect(res.code).toBe(1);
    expect(res.stderr.match(/^test\/fixtures\/policy\/several-problems\.yaml:\d+:\d+ error: /gm)).toHaveLength(5);
    expect(res.stdout).toBe('');
  });

  it('prints warnings and still exits 0', async () => {
    const res = await cli(['policy', 'check', 'test/fixtures/policy/warnings/unbound-role.yaml']);
    expect(res).toEqual({
      code: 0,
      stdout: 'test/fixtures/policy/warnings/unbound-role.yaml: ok (2 roles, 1 binding, 1 warning)\n',
      stderr: 'test/fixtures/policy/warnings/unbound-role.yaml:8:3 warning: roles.auditor: no binding names this role, so no token can carry it\n',
    });
  });

  it('warns on a grant of every DAG to a whole group, naming the role, the grant and the bindings', async () => {
    const res = await cli(['policy', 'check', 'test/fixtures/policy/warnings/every-resource.yaml']);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('test/fixtures/policy/warnings/every-resource.yaml: ok (2 roles, 3 bindings, 4 warnings)\n');
    expect(res.stderr.split('\n')[1]).toBe(
      'test/fixtures/policy/warnings/every-resource.yaml:6:9 warning: roles.platform-operator.allow[0]: covers every DAG: role platform-operator may read, trigger any DAG, reached by bindings[0] (groups: airflow-platform), bindings[1] (client_id: svc-deploy, svc-ci)',
    );
  });

  describe('deployments: names checked against the upstreams of the config', () => {
    const FIXTURE = 'test/fixtures/policy/deployments.yaml';
    const configWith = (upstreams: string[]) => {
      const file = join(tmp(), 'config.yaml');
      const ups = upstreams.map((u) => `  ${u}:\n    audience: https://airflow.${u}.example\n`).join('');
      writeFileSync(file, `issuer: https://broker.example\npolicy_file: ./policy.yaml\ndirectories: {}\nupstreams:\n${ups}`);
      return file;
    };

    it('deployment-name-misspelled: --config refuses a name that is not an upstream, with the closest one, and exits 1', async () => {
      const res = await cli(['policy', 'check', FIXTURE, '--config', configWith(['prod', 'staging'])]);
      expect(res).toEqual({
        code: 1,
        stdout: '',
        stderr: [
          `${FIXTURE} is invalid:`,
          `${FIXTURE}:14:23 error: roles.etl-operator.deny[0].deployments[0]: no upstream "prdo" in the config: did you mean "prod"?`,
          `${FIXTURE}:16:28 error: roles.staging-tester.deployments[1]: no upstream "qa" in the config (upstreams: prod, staging)`,
          '',
        ].join('\n'),
      });
    });

    it('accepts names that are upstreams', async () => {
      const res = await cli(['policy', 'check', FIXTURE, '--config', configWith(['prod', 'staging', 'prdo', 'qa'])]);
      const everyDag = `${FIXTURE}:18:9 warning: roles.staging-tester.allow[0]: covers every DAG: role staging-tester may read, trigger any DAG on staging, qa, reached by bindings[1] (groups: airflow-etl)\n`;
      expect(res).toEqual({ code: 0, stdout: `${FIXTURE}: ok (2 roles, 2 bindings, 1 warning)\n`, stderr: everyDag });
    });

    it('without a config the names could not be checked, and the check says so', async () => {
      const res = await cli(['policy', 'check', FIXTURE]);
      expect(res.code).toBe(0);
      expect(res.stdout).toBe(`${FIXTURE}: ok (2 roles, 2 bindings, 2 warnings)\n`);
      expect(res.stderr.split('\n')[0]).toMatch(/^test\/fixtures\/policy\/deployments\.yaml:10:22 warning: roles\.etl-operator\.allow\[1\]\.deployments: deployment names could not be checked: no config at .*config\.yaml \(give --config\)$/);
    });

    it('a --config that is not there is an error, not a reason to skip the checks', async () => {
      const absent = join(tmp(), 'absent.yaml');
      const res = await cli(['policy', 'check', FIXTURE, '--config', absent]);
      expect(res.code).toBe(1);
      expect(res.stdout).toBe('');
      expect(res.stderr).toContain('absent.yaml');
    });

    it('config check refuses them too', async () => {
      const config = configWith(['prod', 'staging']);
      writeFileSync(join(config, '..', 'policy.yaml'), readFileSync(FIXTURE));
      const res = await cli(['config', 'check', '--config', config]);
      expect(res.code).toBe(1);
      expect(res.stderr).toContain('policy.yaml:14:23 error: roles.etl-operator.deny[0].deployments[0]: no upstream "prdo" in the config: did you mean "prod"?');
    });
  });

  describe('--airflow: dags patterns against the DAGs of a live deployment', () => {
    let airflow: Server;
    let config: string;
    const seen: string[] = [];
    beforeAll(async () => {
      const airflowToken = new UnsecuredJWT({ sub: 'proxy' }).setExpirationTime('1h').encode();
      airflow = createServer((req, res) => {
        seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'}`);
        res.setHeader('content-type', 'application/json');
        if (req.method === 'POST' && req.url === '/auth/token') return void res.writeHead(201).end(JSON.stringify({ access_token: airflowToken }));
        if (req.method === 'GET' && req.url?.startsWith('/api/v2/dags?') && req.headers.authorization === `Bearer ${airflowToken}`) {
          const dags = ['etl_daily', 'etl_hourly', 'report_weekly'].map((dag_id) => ({ dag_id }));
          return void res.end(JSON.stringify({ dags, total_entries: dags.length }));
        }
        res.writeHead(401).end('{}');
      });
      await new Promise<void>((r) => airflow.listen(0, '127.0.0.1', r));
      const dir = tmp();
      config = join(dir, 'config.yaml');
      writeFileSync(
        config,
        [
          'issuer: https://broker.example',
          'policy_file: ./policy.yaml',
          'directories: {}',
          'upstreams:',
          '  prod:',
          '    audience: https://airflow.prod.example',
          `    url: http://127.0.0.1:${(airflow.address() as AddressInfo).port}`,
          '    credentials: { mode: service-account, username: proxy, password: "${ATB_TEST_AIRFLOW_PASSWORD}" }',
          '',
        ].join('\n'),
      );
    });
    afterAll(() => new Promise<void>((r) => airflow.close(() => r())));

    it('warns about a pattern that matches no DAG, logging in as the proxy does', async () => {
      const res = await cli(['policy', 'check', 'examples/policy.yaml', '--airflow', 'prod', '--config', config], { env: { ATB_TEST_AIRFLOW_PASSWORD: 'proxy-pass' } });
      expect(res).toEqual({
        code: 0,
        stdout: 'examples/policy.yaml: ok (2 roles, 2 bindings, DAGs checked against upstream prod, 2 warnings)\n',
        stderr:
          version1Hint('examples/policy.yaml', 2, 'etl-operator') +
          'examples/policy.yaml:15:28 warning: roles.reporting-reader.allow[0].dags[1]: "finance_daily" matches no DAG of upstream "prod" (3 DAGs)\n',
      });
      expect(seen[0]).toBe('POST /auth/token -');
      expect(seen[1]).toMatch(/^GET \/api\/v2\/dags\?limit=100&offset=0 Bearer /);
    });

    it('refuses an upstream the config does not have', async () => {
      const res = await cli(['policy', 'check', 'examples/policy.yaml', '--airflow', 'staging', '--config', config], { env: { ATB_TEST_AIRFLOW_PASSWORD: 'proxy-pass' } });
      expect(res.code).toBe(1);
      expect(res.stderr).toBe(`error: --airflow: no upstream "staging" in ${config}\n`);
    });
  });
});

describe('policy explain', () => {
  const claims = (text: string) => {
    const file = join(tmp(), 'claims.yaml');
    writeFileSync(file, text);
    return file;
  };

  it('exits 0 for an allowed call and explains it', async () => {
    const res = await cli(['policy', 'explain', '--policy', 'examples/policy.yaml', '--claims', claims('client_id: demo-etl\ngroups: [airflow-etl]\n'), 'GET', '/airflow/local/api/v2/dags/etl_daily']);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^principal: bindings for the identity in .*claims\.yaml\nrequest:   GET \/api\/v2\/dags\/etl_daily \(upstream local\)\n/);
    expect(res.stdout).toContain('verdict:   allow (grant-matched)\nrule:      etl-operator allow[0] {dags: ["etl_*"], actions: [read, trigger, clear]}\n');
  });

  it('exits 3 for a denied call; --json; the body from a file', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'body.json'), '{"key": "payroll_secret", "value": "x"}');
    const res = await cli(['policy', 'explain', '--policy', 'examples/policy.yaml', '--claims', claims('scope: etl-operator\n'), '--body', join(dir, 'body.json'), '--json', 'POST', '/api/v2/variables']);
    expect(res.code).toBe(3);
    const out = JSON.parse(res.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({
      verdict: 'deny',
      decision: { allowed: false, reason: 'no-matching-grant', rule: null },
      operations: [{ operationId: 'post_variable', resource: 'variables', action: 'write', resourceIds: ['payroll_secret'] }],
    });
  });

  it('decodes a token read from stdin and says its signature was not verified', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const token = await new SignJWT({ scope: 'reporting-reader', client_id: 'svc-reporting' }).setProtectedHeader({ alg: 'ES256' }).setSubject('svc-reporting').setAudience('https://airflow.example').sign(privateKey);
    const res = await cli(['policy', 'explain', '--policy', 'examples/policy.yaml', '--token', '-', 'POST', '/dags/report_weekly/dagRuns'], { input: `${token}\n` });
    expect(res.code).toBe(3);
    expect(res.stdout).toMatch(/^principal: token of client_id svc-reporting, sub svc-reporting, aud https:\/\/airflow\.example \(decoded offline: signature NOT verified\)\n/);
  });

  it('--deployment decides on that deployment: a grant limited elsewhere is the reason', async () => {
    const body = join(tmp(), 'body.json');
    writeFileSync(body, '{"logical_date": null}');
    const args = ['policy', 'explain', '--policy', 'test/fixtures/policy/warnings/deployment-limits.yaml', '--claims', claims('scope: etl-operator\n'), '--body', body, 'POST', '/dags/etl_daily/dagRuns'];
    const qa = await cli([...args, '--deployment', 'qa']);
    expect(qa.code).toBe(3);
    expect(qa.stdout).toContain('request:   POST /api/v2/dags/etl_daily/dagRuns (upstream qa)\n');
    expect(qa.stdout).toContain('verdict:   deny (grant-limited-to-other-deployments)\nrule:      etl-operator allow[0] {dags: ["etl_*"], actions: [read, trigger], deployments: [prod]}\n');
    expect((await cli([...args, '--deployment', 'prod'])).code).toBe(0);
  });

  it('decides an /api/v1 path with the Airflow 2 catalog; --config reads a bare path with its upstream\'s API version', async () => {
    const who = claims('scope: etl-operator\n');
    const v1 = await cli(['policy', 'explain', '--policy', 'examples/policy.yaml', '--claims', who, 'GET', '/api/v1/dagStats?dag_ids=etl_daily,payroll_monthly']);
    expect(v1.code).toBe(3);
    expect(v1.stdout).toContain('request:   GET /api/v1/dagStats?dag_ids=etl_daily,payroll_monthly\n');
    expect(v1.stdout).toContain('operation: get_dag_stats (GET /dagStats): read on dags "etl_daily", dags "payroll_monthly"\n');
    const dir = tmp();
    const config = join(dir, 'config.yaml');
    writeFileSync(config, `${readFileSync('test/fixtures/config/valid-minimal.yaml', 'utf8')}  old:\n    audience: https://airflow2.example.com\n    api: v1\n`);
    const bare = ['policy', 'explain', '--policy', 'examples/policy.yaml', '--claims', who, '--config', config, '--deployment', 'old', 'GET', '/dagSources/some-token'];
    const onV1 = await cli(bare);
    expect(onV1.stdout).toContain('request:   GET /api/v1/dagSources/some-token (upstream old)\n');
    expect(onV1.stdout).toContain('operation: get_dag_source (GET /dagSources/{file_token}): read_code on all dags\n');
    const wrongRoot = await cli(['policy', 'explain', '--policy', 'examples/policy.yaml', '--claims', who, '--config', config, 'GET', '/airflow/old/api/v2/dags']);
    expect(wrongRoot).toMatchObject({ code: 1, stderr: 'error: upstream old serves /api/v1: the proxy answers 404 for /api/v2\n' });
  });

  it('refuses a path the proxy would refuse, with exit 1', async () => {
    const res = await cli(['policy', 'explain', '--policy', 'examples/policy.yaml', '--claims', claims('scope: etl-operator\n'), 'GET', '/api/v2/dags/..']);
    expect(res).toMatchObject({ code: 1, stderr: 'error: the proxy refuses this path: dot segment in path\n' });
  });
});

describe('policy diff', () => {
  const [OLD, NEW] = ['test/fixtures/policy/diff/old.yaml', 'test/fixtures/policy/diff/new.yaml'];
  const expected = diffPolicies(readPolicyFile(OLD), readPolicyFile(NEW));

  it('prints the effective change as text and as JSON', async () => {
    expect(await cli(['policy', 'diff', OLD, NEW])).toEqual({ code: 0, stdout: formatPolicyDiff(expected), stderr: '' });
    const json = await cli(['policy', 'diff', '--json', OLD, NEW]);
    expect(JSON.parse(json.stdout)).toEqual(JSON.parse(JSON.stringify(expected)));
  });

  it('backfills-hide-inside-trigger: moving the same roles from version 1 to 2 shows the backfill operations they lose', async () => {
    const [v1, v2] = ['test/fixtures/policy/diff/backfill-v1.yaml', 'test/fixtures/policy/diff/backfill-v2.yaml'];
    const res = await cli(['policy', 'diff', v1, v2]);
    expect(res).toEqual({ code: 0, stdout: formatPolicyDiff(diffPolicies(readPolicyFile(v1), readPolicyFile(v2))), stderr: '' });
    expect(res.stdout).toMatch(/^version: 1 -> 2 .*\n.*\n {2}- allow dags "etl_\*": backfill \(create_backfill, create_backfill_dry_run\)\n/);
  });

  it('refuses a broken side with its located problems', async () => {
    const res = await cli(['policy', 'diff', OLD, 'test/fixtures/policy/undefined-role.yaml']);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('undefined-role.yaml:10:11 error: bindings[1].role: binding to undefined role "etl-operators"');
  });
});

describe('policy test', () => {
  it('passes examples/policy.test.txt on examples/policy.yaml', async () => {
    const res = await cli(['policy', 'test', '--policy', 'examples/policy.yaml', 'examples/policy.test.txt']);
    expect(res).toEqual({ code: 0, stdout: '23 expectations: 23 passed, 0 failed\n', stderr: '' });
  });

  it('reports each mismatch and unreadable line with its location, and exits 1', async () => {
    const file = join(tmp(), 'expectations.txt');
    writeFileSync(file, ['# the etl group may not delete DAGs', 'group:airflow-etl may DELETE /api/v2/dags/etl_daily', 'svc-reporting may GET /api/v2/dags/report_weekly', 'svc-reporting might GET /dags', ''].join('\n'));
    const res = await cli(['policy', 'test', '--policy', 'examples/policy.yaml', file]);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('2 expectations: 1 passed, 1 failed; 1 unreadable line\n');
    expect(res.stderr).toBe(
      [
        `${file}:4:1 error: expected "<who> may [not] <METHOD> <PATH> [with <JSON body>]"`,
        `${file}:2:1 fail: group:airflow-etl may DELETE /api/v2/dags/etl_daily`,
        '  but the proxy would deny it (no-matching-grant) for roles [etl-operator]',
        '',
      ].join('\n'),
    );
  });
});
