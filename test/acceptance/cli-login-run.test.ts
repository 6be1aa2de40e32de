import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FREE_PORTS, startDemoStack, type DemoStack } from '../../scripts/demo-stack.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { cliLogin } from '../helpers/cli-login.js';
import { devLogin } from '../helpers/login-broker.js';
import { runCli } from '../helpers/run-cli.js';

/**
 * A person in a terminal on the demo's stack (real Airflow 3.3.2 with a scheduler): alice logs in with
 * `airflow-token-broker login` at the dev directory's login page, then `run etl_daily --wait` without any client id
 * triggers and follows a real run with her cached token; a DAG her roles do not grant is refused (exit 3).
 */

const timeout = 240_000;
let stack: DemoStack;
const env = { XDG_CACHE_HOME: mkdtempSync(join(tmpdir(), 'atb-cli-cache-')) };

beforeAll(async () => {
  process.env.AIRFLOW_PROXY_PASSWORD = 'proxy-pass';
  stack = await startDemoStack({ ports: FREE_PORTS, configure: (c) => Object.assign(c, { logging: { level: 'silent' }, audit: { destination: './audit.log' }, login: devLogin() }) });
  stack.directory.addLoginRedirectUri(`${stack.issuer}/login/callback`);
}, timeout);

afterAll(async () => stack?.stop(), timeout);

const cli = (args: string[]) => runCli([...args, '--issuer', stack.issuer, '--insecure-http', '--poll-interval', '1s'], { env });

function expectExit(res: { code: number; stdout: string; stderr: string }, code: number): void {
  if (res.code !== code) throw new Error(`exit ${res.code}, expected ${code}\nstdout: ${res.stdout}\nstderr: ${res.stderr}\nAirflow:\n${stack.airflow!.logTail()}`);
}

describe('a person runs a DAG from the terminal with the token of `login`', () => {
  it(
    'alice logs in, then run etl_daily --wait (no client id) exits 0 on the real run',
    async () => {
      const login = await cliLogin(stack.issuer, env, 'alice', 'alice-password');
      expectExit(login, EXIT.success);
      expect(login.stderr).toContain('Logged in as alice to deployment local (roles: etl-operator)');
      const res = await cli(['run', 'etl_daily', '--wait', '--run-id', 'alice-cli', '--conf', '{"sleep": 0}', '--timeout', '3m']);
      expectExit(res, EXIT.success);
      expect(res.stdout).toBe('alice-cli\nsuccess\n');
    },
    timeout,
  );

  it(
    'a DAG outside her roles (payroll_monthly) is refused by the proxy with its reason: exit 3, nothing triggered',
    async () => {
      const res = await cli(['run', 'payroll_monthly']);
      expectExit(res, EXIT.refused);
      expect(res.stderr).toMatch(/HTTP 403: insufficient_scope/);
    },
    timeout,
  );
});
