// Issue #14 item 5, end to end: the real `serve`, given only the image's environment defaults (a loopback
// address of its own stands for the image's 0.0.0.0, a temporary folder for /app), listens on both listeners
// there and keeps its key and its revocation database in the state folder, not beside the config.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { startDirectory } from '../helpers/broker-harness.js';
import { imageEnv } from '../helpers/deploy-files.js';
import { BIN, serveConfig } from '../helpers/run-cli.js';

/** Not 127.0.0.1: a listener that ignored the default would not answer here. */
const IMAGE_HOST = '127.0.0.2';

let directory: DevDirectory;
beforeAll(async () => {
  directory = await startDirectory();
});
afterAll(() => directory.close());

/** Resolves with the `airflow-token-broker listening` log line's fields. */
function listening(child: ReturnType<typeof spawn>): Promise<{ url: string; ops_url: string }> {
  return new Promise((done, fail) => {
    let out = '';
    child.stdout!.on('data', (c) => {
      out += c;
      const line = out.split('\n').find((l) => l.includes('airflow-token-broker listening'));
      if (line) done(JSON.parse(line));
    });
    child.on('exit', (code) => fail(new Error(`serve exited ${code} before listening:\n${out}`)));
  });
}

it('serve-with-the-image-defaults: both listeners on the image host, key and data in the state folder', async () => {
  const root = mkdtempSync(join(tmpdir(), 'atb-image-'));
  const configDir = join(root, 'etc');
  const state = join(root, 'app');
  mkdirSync(configDir);
  mkdirSync(state);
  writeFileSync(join(configDir, 'policy.yaml'), readFileSync('examples/policy.yaml'));
  writeFileSync(join(configDir, 'config.yaml'), serveConfig(directory.issuer));
  expect(imageEnv()).toEqual(expect.objectContaining({ AIRFLOW_TOKEN_BROKER_LISTEN_HOST: '0.0.0.0', AIRFLOW_TOKEN_BROKER_STATE_DIR: '/app' }));
  const env = { ...process.env, ...imageEnv(), AIRFLOW_TOKEN_BROKER_LISTEN_HOST: IMAGE_HOST, AIRFLOW_TOKEN_BROKER_STATE_DIR: state };
  const child = spawn(process.execPath, [BIN, 'serve', '--config', join(configDir, 'config.yaml')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const { url, ops_url } = await listening(child);
    expect(new URL(url).hostname).toBe(IMAGE_HOST);
    expect(new URL(ops_url).hostname).toBe(IMAGE_HOST);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${ops_url}/metrics`)).status).toBe(200);
    // The first key (keys.generate_if_missing) and the revocation database: in the state folder, none beside the config.
    expect(readdirSync(join(state, 'keys')).filter((n) => n.endsWith('.json'))).toHaveLength(1);
    expect(existsSync(join(state, 'data', 'revocations.sqlite'))).toBe(true);
    expect(readdirSync(configDir).sort()).toEqual(['config.yaml', 'policy.yaml']);
  } finally {
    child.kill('SIGKILL');
  }
});
