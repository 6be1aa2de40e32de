// `npm test`: make sure the real peers the tests start are installable, type-check and build everything, then
// run jest (ESM needs --experimental-vm-modules).
import { spawnSync } from 'node:child_process';

const env = { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --experimental-vm-modules --no-warnings=ExperimentalWarning`.trim() };
const run = (cmd, args, extra = {}) => spawnSync(cmd, args, { stdio: 'inherit', env, ...extra });
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

// A real Redis for the shared-revocation tests (Debian's package; the tests start their own on loopback).
// The Airflow virtualenv is installed by the acceptance tests themselves (scripts/airflow/ensure-venv.sh).
if (!has('redis-server')) {
  if (process.getuid?.() !== 0 || !has('apt-get')) {
    console.error('redis-server is needed by the tests: install it (Debian: apt-get install redis-server) and run again');
    process.exit(1);
  }
  console.log('installing redis-server (Debian package) for the tests...');
  const quiet = { env: { ...env, DEBIAN_FRONTEND: 'noninteractive' } };
  if (run('apt-get', ['update', '-qq'], quiet).status !== 0 || run('apt-get', ['install', '-y', '-qq', 'redis-server'], quiet).status !== 0) process.exit(1);
}

// Emitting (not only --noEmit) also builds dist/, which the CLI tests run as the real bin.
const typecheck = run('tsc', ['-p', 'tsconfig.json']);
if (typecheck.status !== 0) process.exit(typecheck.status ?? 1);
const jest = run('jest', process.argv.slice(2));
process.exit(jest.status ?? 1);
