import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { startBroker, startDirectory, PROD_AUDIENCE } from '../helpers/broker-harness.js';
import { runCli as cli, serveUntilListening } from '../helpers/run-cli.js';

/**
 * Item 3 of issue 9: the Airflow key set (`keys.airflow_dir`) has a lifecycle of its own through the real CLI
 * (`keys generate|rotate|list --set airflow`), and `keys.airflow_publish_also` publishes Airflow's own public key.
 */

interface Row {
  kid: string;
  state: string;
  created_at: string | null;
  signs_from: string | null;
  file?: string;
}

function setUp(extra: string[] = ['upstreams: {}']): { dir: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), 'atb-airflow-keys-'));
  writeFileSync(join(dir, 'policy.yaml'), 'version: 1\nroles: {}\n');
  const config = join(dir, 'config.yaml');
  writeFileSync(config, ['issuer: https://broker.example', 'server: { port: 0 }', 'policy_file: ./policy.yaml', 'policy_watch: false', 'directories: {}', 'audit: { destination: stderr }', ...extra, ''].join('\n'));
  return { dir, config };
}

const files = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.json')) : []);

const list = async (config: string, set: string) => {
  const res = await cli(['keys', 'list', '-c', config, '--set', set, '--json']);
  expect(res.code).toBe(0);
  return JSON.parse(res.stdout) as Row[];
};

describe('keys --set', () => {
  it('--set airflow creates, rotates and lists the Airflow key set; the broker set is untouched', async () => {
    const { dir, config } = setUp();
    expect((await cli(['keys', 'generate', '-c', config, '--set', 'airflow'])).code).toBe(0);
    const rotated = await cli(['keys', 'rotate', '-c', config, '--set', 'airflow']);
    expect(rotated.stderr).toBe('');
    expect(rotated.stdout).toContain(join(dir, 'keys', 'airflow'));
    const rows = await list(config, 'airflow');
    expect(rows.map((r) => r.state)).toEqual(['active', 'pending']);
    // keys.airflow_prepublish defaults to 75 minutes: Airflow's hourly refresh plus a Secret propagation margin.
    const prepublished = Date.parse(rows[1]!.signs_from!) - Date.parse(rows[1]!.created_at!);
    expect(Math.abs(prepublished - 75 * 60_000)).toBeLessThan(1_000);
    expect(files(join(dir, 'keys', 'airflow'))).toHaveLength(2);
    expect(files(join(dir, 'keys'))).toEqual([]);
    expect(await list(config, 'broker')).toEqual([]);
  });

  it('--set broker (the default) leaves the Airflow key set untouched', async () => {
    const { dir, config } = setUp();
    expect((await cli(['keys', 'generate', '-c', config])).code).toBe(0);
    expect((await cli(['keys', 'rotate', '-c', config, '--set', 'broker', '--prepublish', '5m'])).code).toBe(0);
    expect((await list(config, 'broker')).map((r) => r.state)).toEqual(['active', 'pending']);
    expect(files(join(dir, 'keys'))).toHaveLength(2);
    expect(existsSync(join(dir, 'keys', 'airflow'))).toBe(false);
    expect(await list(config, 'airflow')).toEqual([]);
  });

  it('an unknown set is a clear error, exit 1', async () => {
    const { config } = setUp();
    for (const verb of ['generate', 'rotate', 'list']) {
      const res = await cli(['keys', verb, '-c', config, '--set', 'airfow']);
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/--set <set>' argument 'airfow' is invalid\. Allowed choices are broker, airflow/);
    }
  });

  it('airflow-rotation-shorter-than-airflow-refresh: refused without --force, saying why', async () => {
    const { dir, config } = setUp();
    await cli(['keys', 'generate', '-c', config, '--set', 'airflow']);
    const refused = await cli(['keys', 'rotate', '-c', config, '--set', 'airflow', '--prepublish', '30m']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/1800 s is shorter than Airflow's JWKS refresh \(3600 s\).*not on an unknown kid/);
    expect(files(join(dir, 'keys', 'airflow'))).toHaveLength(1);
    const forced = await cli(['keys', 'rotate', '-c', config, '--set', 'airflow', '--prepublish', '0s', '--force']);
    expect(forced.code).toBe(0);
    expect((await list(config, 'airflow')).map((r) => r.state)).toEqual(['retired', 'active']);
    // The broker set keeps its own, shorter pre-publication: no Airflow refresh is involved there.
    expect((await cli(['keys', 'rotate', '-c', config, '--prepublish', '30m'])).code).toBe(0);
  });

  it('keys generate --set airflow beside a signing key (the emergency step) warns to restart the Airflow API servers', async () => {
    const { config } = setUp();
    const first = await cli(['keys', 'generate', '-c', config, '--set', 'airflow']);
    expect(first.stderr).toBe('');
    const second = await cli(['keys', 'generate', '-c', config, '--set', 'airflow']);
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/^warning: \S+ replaces \S+ at once: Airflow API servers refuse it .*restart every API server/);
    expect((await list(config, 'airflow')).map((r) => r.state)).toEqual(['retired', 'active']);
  });
});

describe('keys.airflow_publish_also', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const privatePem = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const withFile = (name: string, text: string) => {
    const set = setUp(['keys:', '  algorithm: RS256', '  generate_if_missing: false', `  airflow_publish_also: [{ file: ./${name} }]`, 'upstreams: {}']);
    writeFileSync(join(set.dir, name), text);
    return { ...set, file: join(set.dir, name) };
  };

  it('keys list --set airflow shows it as external', async () => {
    const { config, file } = withFile('airflow-public.pem', publicPem);
    await cli(['keys', 'generate', '-c', config, '--set', 'airflow']);
    const rows = await list(config, 'airflow');
    expect(rows.map((r) => r.state)).toEqual(['active', 'external']);
    expect(rows[1]).toMatchObject({ file, signs_from: null });
    expect((await list(config, 'broker')).map((r) => r.state)).toEqual([]);
  });

  it('private-key-in-publish-also: config check and serve refuse it, naming the file', async () => {
    const { config, file } = withFile('airflow-private.pem', privatePem);
    await cli(['keys', 'generate', '-c', config]);
    const check = await cli(['config', 'check', '-c', config]);
    expect(check.code).toBe(1);
    expect(check.stderr).toContain(`${file}: holds a private key`);
    const served = await serveUntilListening(config);
    expect(served.code).toBe(1);
    expect(served.stderr).toContain(`${file}: holds a private key`);
  });

  it('a malformed or unreadable file refuses the start, naming the file', async () => {
    const { config, file } = withFile('airflow-public.json', '{"kty": "RSA", "n": ');
    await cli(['keys', 'generate', '-c', config]);
    const served = await serveUntilListening(config);
    expect(served.code).toBe(1);
    expect(served.stderr).toContain(`${file}: not valid JSON`);
    const missing = setUp(['keys: { algorithm: RS256, airflow_publish_also: [{ file: ./gone.pem }] }', 'upstreams: {}']);
    const res = await serveUntilListening(missing.config);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`${join(missing.dir, 'gone.pem')}: keys.airflow_publish_also: the file cannot be read (ENOENT)`);
  });

  it('a key of another algorithm than keys.algorithm refuses the start', async () => {
    const { config, file } = withFile('airflow-public.pem', publicPem);
    writeFileSync(config, readFileSync(config, 'utf8').replace('algorithm: RS256', 'algorithm: ES256'));
    await cli(['keys', 'generate', '-c', config]);
    const served = await serveUntilListening(config);
    expect(served.code).toBe(1);
    expect(served.stderr).toContain(`${file}: a rsa key cannot verify ES256`);
  });
});

describe('serve without an Airflow key', () => {
  it('generate-if-missing-false-points-to-the-airflow-set: names keys generate --set airflow', async () => {
    const { config, dir } = setUp([
      'keys: { generate_if_missing: false }',
      'upstreams:',
      '  prod: { audience: https://airflow.example, url: "http://127.0.0.1:9", credentials: { mode: trusted-jwks } }',
    ]);
    mkdirSync(join(dir, 'keys'));
    await cli(['keys', 'generate', '-c', config]);
    const res = await serveUntilListening(config);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`no active Airflow signing key in ${join(dir, 'keys', 'airflow')} (run: airflow-token-broker keys generate --set airflow)`);
  });
});

describe('the JWKS responses', () => {
  let directory: DevDirectory;
  beforeAll(async () => {
    directory = await startDirectory();
  });
  afterAll(() => directory.close());

  it('airflow-jwks-not-cacheable: /airflow/jwks.json is no-store, ours first then Airflow\'s own key; the broker JWKS caches 60 s', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'atb-airflow-jwks-'));
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(dir, 'airflow.pem'), publicKey.export({ type: 'spki', format: 'pem' }) as string);
    const broker = await startBroker(directory, {
      dir,
      configure: (c) => {
        c.keys = { ...c.keys, airflow_publish_also: [{ file: './airflow.pem', kid: 'airflow-own' }] };
        c.upstreams.prod = { audience: PROD_AUDIENCE, url: 'http://127.0.0.1:9', credentials: { mode: 'trusted-jwks' } };
      },
    });
    try {
      const res = await fetch(`${broker.url}/airflow/jwks.json`);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const { keys } = (await res.json()) as { keys: Array<{ kid: string; d?: string }> };
      expect(keys.map((k) => k.kid)).toEqual([broker.services.airflowKeys.signingKey()!.kid, 'airflow-own']);
      expect(keys.some((k) => 'd' in k)).toBe(false);
      expect(broker.services.airflowKeys.signingKey()!.kid).not.toBe('airflow-own');
      expect((await fetch(`${broker.url}/oauth2/jwks`)).headers.get('cache-control')).toBe('public, max-age=60');
    } finally {
      await broker.close();
    }
  });
});
