import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDirectory } from '../helpers/broker-harness.js';
import { BIN, serveConfig } from '../helpers/run-cli.js';

/**
 * Regression (issue #11, item 1): `proxy.leeway: 1s` "ignored", an expired token accepted about 31 s after `exp`.
 * The configured value is applied (test/integration/proxy-leeway.test.ts); what was not applied is a config edited
 * under a running broker: SIGHUP reloads the policy only, and the broker kept its 30 s without a word. It now says
 * which keys changed on disk and that they need a restart (names only: values may be secrets).
 */
async function until<T>(probe: () => T | undefined, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not reached');
}

it('leeway-changed-under-a-running-broker: SIGHUP says the changed config keys need a restart', async () => {
  const directory = await startDirectory();
  const dir = mkdtempSync(join(tmpdir(), 'atb-sighup-'));
  const config = join(dir, 'config.yaml');
  const policy = join(dir, 'policy.yaml');
  writeFileSync(policy, readFileSync('examples/policy.yaml'));
  const write = (leeway: string) => writeFileSync(config, serveConfig(directory.issuer, [`proxy: { leeway: ${leeway} }`]));
  write('30s');
  const child = spawn(process.execPath, [BIN, 'serve', '--config', config]);
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  try {
    await until(() => (out.includes('airflow-token-broker listening') ? true : undefined));
    write('1s');
    writeFileSync(policy, readFileSync('examples/policy.yaml', 'utf8') + '\n# reviewed\n');
    child.kill('SIGHUP');
    await until(() => (out.includes('policy reloaded') ? true : undefined));
    const warning = out.split('\n').find((line) => line.includes('restart'));
    expect(warning).toBeDefined();
    expect(JSON.parse(warning!)).toMatchObject({ level: 'warn', changed: ['proxy.leeway'] });
    expect(warning).not.toContain('1s');
  } finally {
    child.kill('SIGKILL');
    await directory.close();
  }
});
