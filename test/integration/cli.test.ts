import { spawn } from 'node:child_process';
import { BIN, runCli as cli, serveConfig } from '../helpers/run-cli.js';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { startBroker, startDirectory, type Broker } from '../helpers/broker-harness.js';

describe('config check', () => {
  it('accepts the example config and policy', async () => {
    const res = await cli(['config', 'check', '--config', 'examples/config.yaml'], { env: { AIRFLOW_PROXY_PASSWORD: 'proxy-pass', LOGIN_CLIENT_SECRET: 'demo-console-secret' } });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/config\.yaml: ok/);
    expect(res.stdout).toMatch(/policy\.yaml: ok \(sha256 [0-9a-f]{64}\)/);
  });

  it('names an unset secret reference with its location', async () => {
    const res = await cli(['config', 'check', '--config', 'examples/config.yaml'], { env: { AIRFLOW_PROXY_PASSWORD: '', LOGIN_CLIENT_SECRET: 'demo-console-secret' } });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/config\.yaml:\d+:\d+ error: upstreams\.local\.credentials\.password: environment variable AIRFLOW_PROXY_PASSWORD is not set/);
  });

  it('lists every problem with file:line:column and exits 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'atb-cli-'));
    const file = join(dir, 'config.yaml');
    writeFileSync(file, ['issuer: not-a-url', 'policy_file: ./p.yaml', 'directories: {}', 'upstreams: {}', 'tokens:', '  max_ttl: forever', 'bogus: 1', ''].join('\n'));
    const res = await cli(['config', 'check', '--config', file]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`${file}:1:9 error: issuer:`);
    expect(res.stderr).toContain(`${file}:6:12 error: tokens.max_ttl: "forever" is not a duration`);
    expect(res.stderr).toMatch(/bogus/);
  });

  it('realm-roles-cannot-be-bound: warns about claim paths that cannot match, in the config and the policy, and exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'atb-cli-'));
    const file = join(dir, 'config.yaml');
    writeFileSync(file, ['issuer: https://broker.example', 'policy_file: ./policy.yaml', 'directories:', '  kc:', '    issuer: https://kc.example/realms/corp', '    claims: { groups: realm_access.roles }', 'upstreams: {}', ''].join('\n'));
    writeFileSync(join(dir, 'policy.yaml'), ['version: 1', 'roles: { etl: {} }', 'bindings:', '  - role: etl', '    when: { claims: { "realm_access.roles": airflow-etl } }', ''].join('\n'));
    const res = await cli(['config', 'check', '--config', file]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/policy\.yaml: ok/);
    expect(res.stderr).toContain(`${file}:6:23 warning: directories.kc.claims.groups: "realm_access.roles" is the top-level claim of that name`);
    expect(res.stderr).toContain(`${join(dir, 'policy.yaml')}:5:23 warning: bindings[0].when.claims.realm_access.roles: "realm_access.roles" is not a JSON Pointer, so this condition never matches: did you mean "/realm_access/roles"?`);
  });
});

/**
 * Regression (issue #9, item 5): a trusted-jwks upstream mints per-caller tokens with the caller's `airflow_role`;
 * a role that grants something but names none (and no `default_airflow_role`) passed both checks, then every call of
 * a token carrying only that role was refused.
 */
describe('trusted-jwks-role-without-airflow-role', () => {
  const setUp = (credentials: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'atb-cli-'));
    const file = join(dir, 'config.yaml');
    writeFileSync(
      file,
      ['issuer: https://broker.example', 'policy_file: ./policy.yaml', 'directories: {}', 'upstreams:', '  prod:', '    audience: https://airflow.prod.example', '    url: http://127.0.0.1:1', `    credentials: ${credentials}`, ''].join('\n'),
    );
    writeFileSync(join(dir, 'policy.yaml'), readFileSync('test/fixtures/policy/trusted-jwks.yaml'));
    return { file, policy: join(dir, 'policy.yaml') };
  };
  const refusal = (policy: string) =>
    `${policy}:13:3 error: roles.reporting-reader: this role grants access but names no airflow_role, and upstream "prod" (trusted-jwks) has no default_airflow_role, ` +
    'so every call of a token with only this role is refused there: set airflow_role on the role (viewer, user, op or admin), or credentials.default_airflow_role on the upstream';

  it('config check fails naming the role, the upstream and both fixes', async () => {
    const { file, policy } = setUp('{ mode: trusted-jwks }');
    const res = await cli(['config', 'check', '--config', file]);
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(`${policy} is invalid:\n${refusal(policy)}\n`);
  });

  it('policy check --config fails the same way', async () => {
    const { file, policy } = setUp('{ mode: trusted-jwks }');
    const res = await cli(['policy', 'check', policy, '--config', file]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`${refusal(policy)}\n`);
    expect(res.stdout).toBe('');
  });

  it('passes with default_airflow_role on the upstream, and in service-account mode', async () => {
    const withDefault = setUp('{ mode: trusted-jwks, default_airflow_role: viewer }');
    expect(await cli(['config', 'check', '--config', withDefault.file])).toMatchObject({ code: 0, stderr: '' });
    expect(await cli(['policy', 'check', withDefault.policy, '--config', withDefault.file])).toMatchObject({ code: 0 });
    const serviceAccount = setUp('{ mode: service-account, username: proxy, password: "${ATB_TEST_PW}" }');
    expect(await cli(['config', 'check', '--config', serviceAccount.file], { env: { ATB_TEST_PW: 'x' } })).toMatchObject({ code: 0, stderr: '' });
  });

  it('a role limited to a service-account deployment is not checked against the trusted-jwks one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'atb-cli-'));
    const file = join(dir, 'config.yaml');
    const upstream = (name: string, credentials: string) => [`  ${name}:`, `    audience: https://airflow.${name}.example`, '    url: http://127.0.0.1:1', `    credentials: ${credentials}`];
    writeFileSync(
      file,
      ['issuer: https://broker.example', 'policy_file: ./policy.yaml', 'directories: {}', 'upstreams:', ...upstream('prod', '{ mode: trusted-jwks }'), ...upstream('staging', '{ mode: service-account, username: proxy, password: "${ATB_TEST_PW}" }'), ''].join('\n'),
    );
    const policy = join(dir, 'policy.yaml');
    const fixture = readFileSync('test/fixtures/policy/trusted-jwks.yaml', 'utf8');
    writeFileSync(policy, fixture.replace('  reporting-reader:\n', '  reporting-reader:\n    deployments: [staging]\n'));
    const env = { env: { ATB_TEST_PW: 'x' } };
    expect(await cli(['config', 'check', '--config', file], env)).toMatchObject({ code: 0, stderr: '' });
    writeFileSync(policy, fixture);
    const unlimited = await cli(['config', 'check', '--config', file], env);
    expect(unlimited.code).toBe(1);
    expect(unlimited.stderr).toContain('roles.reporting-reader: this role grants access but names no airflow_role, and upstream "prod" (trusted-jwks)');
  });
});

describe('keys', () => {
  it('generate, rotate and list share one keys directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'atb-cli-keys-'));
    const config = join(dir, 'config.yaml');
    writeFileSync(config, ['issuer: https://broker.example', 'policy_file: ./policy.yaml', 'directories: {}', 'upstreams: {}', ''].join('\n'));
    expect((await cli(['keys', 'generate', '-c', config])).code).toBe(0);
    const rotated = await cli(['keys', 'rotate', '-c', config, '--prepublish', '2h']);
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toMatch(/published now, signs from/);
    const list = await cli(['keys', 'list', '-c', config, '--json']);
    const rows = JSON.parse(list.stdout) as Array<{ state: string; published: boolean; alg: string }>;
    expect(rows.map((r) => r.state)).toEqual(['active', 'pending']);
    expect(rows.every((r) => r.published && r.alg === 'ES256')).toBe(true);
  });
});

describe('token', () => {
  let directory: DevDirectory;
  let broker: Broker;
  beforeAll(async () => {
    directory = await startDirectory();
    broker = await startBroker(directory);
  });
  afterAll(async () => {
    await broker.close();
    await directory.close();
  });

  it('prints a token for a service account, secret from the environment', async () => {
    const res = await cli(['token', '--issuer', broker.url, '--client-id', 'demo-etl', '--insecure-http'], {
      env: { AIRFLOW_TOKEN_BROKER_CLIENT_SECRET: 'demo-etl-secret' },
    });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(decodeJwt(res.stdout.trim())).toMatchObject({ sub: 'demo-etl', scope: 'etl-operator' });
  });

  it('reads the secret from stdin and passes scope and resource', async () => {
    const res = await cli(
      ['token', '--issuer', broker.url, '--client-id', 'demo-etl', '--client-secret-stdin', '--scope', 'etl-operator', '--resource', 'https://airflow.staging.example', '--insecure-http'],
      { input: 'demo-etl-secret\n' },
    );
    expect(res.code).toBe(0);
    expect(decodeJwt(res.stdout.trim()).aud).toBe('https://airflow.staging.example');
  });

  it('fails with the OAuth error and exit 1 on a wrong secret', async () => {
    const res = await cli(['token', '--issuer', broker.url, '--client-id', 'demo-etl', '--insecure-http'], {
      env: { AIRFLOW_TOKEN_BROKER_CLIENT_SECRET: 'wrong' },
    });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('invalid_client');
    expect(res.stdout).toBe('');
  });
});

describe('serve', () => {
  it('reloads the policy on SIGHUP, keeps the last good one on a broken file, and stops on SIGTERM', async () => {
    const { readFileSync } = await import('node:fs');
    const directory = await startDirectory();
    const dir = mkdtempSync(join(tmpdir(), 'atb-serve-'));
    const config = join(dir, 'config.yaml');
    const policy = join(dir, 'policy.yaml');
    writeFileSync(policy, readFileSync('examples/policy.yaml'));
    writeFileSync(config, serveConfig(directory.issuer));
    const child = spawn(process.execPath, [BIN, 'serve', '--config', config]);
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    try {
      const opsUrl = await until(() => /"ops_url":"(http:[^"]+)"/.exec(out)?.[1]);
      const hash = async () => ((await (await fetch(`${opsUrl}/readyz`)).json()) as { policy: { hash: string; last_reload_error: unknown } }).policy;
      const first = (await hash()).hash;
      writeFileSync(policy, 'version: 1\nroles: {broken\n');
      child.kill('SIGHUP');
      await until(async () => ((await hash()).last_reload_error ? true : undefined));
      expect((await hash()).hash).toBe(first);
      writeFileSync(policy, readFileSync('examples/policy.yaml', 'utf8') + '\n# reviewed\n');
      child.kill('SIGHUP');
      const second = await until(async () => {
        const p = await hash();
        return p.hash !== first ? p : undefined;
      });
      expect(second.last_reload_error).toBeNull();
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number];
      expect(code).toBe(0);
    } finally {
      child.kill('SIGKILL');
      await directory.close();
    }
  });
});

describe('serve with several workers', () => {
  it('runs one primary and N workers that sign with the same key, and stops them all on SIGTERM', async () => {
    const { execFileSync } = await import('node:child_process');
    const { request } = await import('node:http');
    const dir = mkdtempSync(join(tmpdir(), 'atb-workers-'));
    const config = join(dir, 'config.yaml');
    writeFileSync(join(dir, 'policy.yaml'), 'version: 1\nroles: {}\n');
    writeFileSync(config, ['issuer: http://127.0.0.1:8400', 'server: { port: 0, workers: 2, ops: { port: 0 } }', 'policy_file: ./policy.yaml', 'directories: {}', 'upstreams: {}', 'audit: { destination: stderr }', ''].join('\n'));
    const child = spawn(process.execPath, [BIN, 'serve', '--config', config]);
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    try {
      const url = await until(() => /"url":"(http:[^"]+)"/.exec(out)?.[1], 20_000, () => out);
      await until(() => (out.match(/airflow-token-broker listening/g)?.length === 2 ? true : undefined), 20_000, () => out);
      expect(out).not.toContain('worker died'); // both started cleanly, side by side
      const workers = execFileSync('pgrep', ['-P', String(child.pid)]).toString().trim().split('\n');
      expect(workers).toHaveLength(2);
      // A new connection each time, so the kernel may hand it to either worker: one key everywhere.
      const kids = new Set<string>();
      for (let i = 0; i < 12; i++) {
        const body = await new Promise<string>((resolve, reject) => {
          request(`${url}/oauth2/jwks`, { agent: false }, (res) => {
            let data = '';
            res.on('data', (c) => (data += c));
            res.on('end', () => resolve(data));
          }).on('error', reject).end();
        });
        for (const k of (JSON.parse(body) as { keys: Array<{ kid: string }> }).keys) kids.add(k.kid);
      }
      expect(kids.size).toBe(1);
      // The primary serves the ops listener: every worker's readiness, and metrics summed over the workers.
      const opsUrl = await until(() => /"ops_url":"(http:[^"]+)"/.exec(out)?.[1], 20_000, () => out);
      for (let i = 0; i < 12; i++) {
        await new Promise<void>((resolve, reject) => {
          const req = request(`${url}/oauth2/token`, { method: 'POST', agent: false, headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
            res.resume();
            res.on('end', resolve);
          });
          req.on('error', reject).end('grant_type=client_credentials');
        });
      }
      const ready = await fetch(`${opsUrl}/readyz`);
      expect(ready.status).toBe(200);
      const report = (await ready.json()) as { status: string; workers: Record<string, { status: string; signing_key: string }> };
      expect(Object.keys(report.workers).sort()).toEqual([...workers].sort());
      expect(Object.values(report.workers).map((w) => w.status)).toEqual(['ready', 'ready']);
      const metrics = await (await fetch(`${opsUrl}/metrics`)).text();
      const counted = [...metrics.matchAll(/^atb_token_requests_total\{[^}]*\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
      expect(counted).toBe(12);
      expect((await fetch(`${url}/metrics`)).status).toBe(404);
      child.kill('SIGTERM');
      await once(child, 'exit');
      expect(() => execFileSync('pgrep', ['-P', String(child.pid)])).toThrow(); // no worker left
    } finally {
      child.kill('SIGKILL');
    }
  });
});

async function until<T>(probe: () => T | undefined | Promise<T | undefined>, ms = 10_000, context?: () => string): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`condition not reached${context ? `; output:\n${context()}` : ''}`);
}
