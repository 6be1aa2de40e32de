// `npm test`: make sure the real peers the tests start are installable, type-check and build everything, then
// run jest (ESM needs --experimental-vm-modules).
import { spawnSync } from 'node:child_process';

const env = { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --experimental-vm-modules --no-warnings=ExperimentalWarning`.trim() };
const run = (cmd, args, extra = {}) => spawnSync(cmd, args, { stdio: 'inherit', env, ...extra });
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

// The real peers' system packages (Debian's; the tests start the peers themselves on loopback): Redis for the
// shared-revocation tests, Java 17+, Maven and unzip for Keycloak (scripts/keycloak/ensure-keycloak.sh fetches
// and builds it into the cache on first use), Chromium for the browser-app tests (/usr/bin/chromium, driven by
// playwright-core: test/helpers/chromium.ts), openssl for the self-signed certificate of the broker served over TLS
// (test/helpers/self-signed-cert.ts). The Airflow virtualenv is installed by the acceptance tests
// themselves (scripts/airflow/ensure-venv.sh).
const needed = [
  ['redis-server', 'redis-server'],
  ['java', 'openjdk-17-jre-headless'],
  ['mvn', 'maven'],
  ['unzip', 'unzip'],
  ['chromium', 'chromium'],
  ['openssl', 'openssl'],
  ['haproxy', 'haproxy'],
].filter(([cmd]) => !has(cmd));
if (needed.length > 0) {
  const packages = needed.map(([, pkg]) => pkg);
  if (process.getuid?.() !== 0 || !has('apt-get')) {
    console.error(`the tests need ${needed.map(([cmd]) => cmd).join(', ')}: install them (Debian: apt-get install ${packages.join(' ')}) and run again`);
    process.exit(1);
  }
  console.log(`installing ${packages.join(', ')} (Debian packages) for the tests...`);
  const quiet = { env: { ...env, DEBIAN_FRONTEND: 'noninteractive' } };
  if (run('apt-get', ['update', '-qq'], quiet).status !== 0 || run('apt-get', ['install', '-y', '-qq', ...packages], quiet).status !== 0) process.exit(1);
}

// Emitting (not only --noEmit) also builds dist/, which the CLI tests run as the real bin and the console tests serve.
const typecheck = run('tsc', ['-p', 'tsconfig.json']);
if (typecheck.status !== 0) process.exit(typecheck.status ?? 1);
// The console's browser code (its own tsconfig, DOM types) into dist/console, which the broker serves.
const consoleBuild = run('node', ['scripts/build-console.mjs']);
if (consoleBuild.status !== 0) process.exit(consoleBuild.status ?? 1);
const jest = run('jest', process.argv.slice(2));
process.exit(jest.status ?? 1);
