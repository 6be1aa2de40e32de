import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyStore } from '../../src/keys/key-store.js';
import { runCli, serveUntilListening as serve } from '../helpers/run-cli.js';

/**
 * Item 7 of issue 7: broken key material refuses to start (`serve` exits 1 naming the file and the problem)
 * instead of starting ready and answering 500 to every token request.
 */

interface Setup {
  config: string;
  keysDir: string;
}

function setUp(): Setup {
  const dir = mkdtempSync(join(tmpdir(), 'atb-badkey-'));
  const keysDir = join(dir, 'keys');
  mkdirSync(keysDir, { mode: 0o700 });
  writeFileSync(join(dir, 'policy.yaml'), 'version: 1\nroles: {}\n');
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    ['issuer: http://127.0.0.1:8400', 'server: { port: 0 }', 'policy_file: ./policy.yaml', 'policy_watch: false', 'keys: { generate_if_missing: false }', 'directories: {}', 'upstreams: {}', 'audit: { destination: stderr }', ''].join('\n'),
  );
  return { config, keysDir };
}

/** A good key file written by the key store itself; returns its path. */
async function goodKey(keysDir: string): Promise<string> {
  const store = new KeyStore({ dir: keysDir, algorithm: 'ES256', maxTokenTtlMs: 3_600_000 });
  const key = await store.generate();
  return join(keysDir, `${key.kid}.json`);
}

describe('serve refuses broken key material', () => {
  it('starts with a good key (the control)', async () => {
    const { config, keysDir } = setUp();
    await goodKey(keysDir);
    expect((await serve(config)).code).toBe('started');
  });

  it('key-file-without-private-part: exit 1 naming the file', async () => {
    const { config, keysDir } = setUp();
    const file = await goodKey(keysDir);
    const content = JSON.parse(readFileSync(file, 'utf8')) as { private_jwk: Record<string, unknown> };
    delete content.private_jwk.d;
    writeFileSync(file, JSON.stringify(content), { mode: 0o600 });
    const res = await serve(config);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(file);
    expect(res.stderr).toMatch(/no private key/);
  });

  it('rsa-1024-key: exit 1, at least 2048 bits are required', async () => {
    const { config, keysDir } = setUp();
    const jwk = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'jwk' });
    const file = join(keysDir, 'weak.json');
    const now = new Date().toISOString();
    writeFileSync(file, JSON.stringify({ kid: 'weak', alg: 'RS256', created_at: now, sign_from: now, private_jwk: { ...jwk, kid: 'weak', alg: 'RS256', use: 'sig' } }), { mode: 0o600 });
    const res = await serve(config);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(file);
    expect(res.stderr).toMatch(/1024 bits.*2048/);
  });

  it('key-file-readable-by-others: exit 1 naming the file and its mode', async () => {
    const { config, keysDir } = setUp();
    const file = await goodKey(keysDir);
    chmodSync(file, 0o644);
    const res = await serve(config);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(file);
    expect(res.stderr).toMatch(/mode 0644/);
  });

  it('key-file-readable-by-group: exit 1', async () => {
    const { config, keysDir } = setUp();
    const file = await goodKey(keysDir);
    chmodSync(file, 0o640);
    const res = await serve(config);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(file);
    expect(res.stderr).toMatch(/mode 0640/);
  });

  it('truncated-key-file: exit 1 naming the file', async () => {
    const { config, keysDir } = setUp();
    const file = await goodKey(keysDir);
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.slice(0, text.length / 2), { mode: 0o600 });
    const res = await serve(config);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(file);
    expect(res.stderr).toMatch(/not valid JSON/);
  });
});

describe('keys CLI verbs and broken key material', () => {
  it('keys-rotate-with-broken-file: exit 1 naming the file, nothing written', async () => {
    const { config, keysDir } = setUp();
    const file = await goodKey(keysDir);
    chmodSync(file, 0o644);
    const res = await runCli(['keys', 'rotate', '-c', config]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(file);
    expect(readdirSync(keysDir)).toHaveLength(1);
  });

  it('keys-list-with-broken-file: lists the good keys, names the bad file, exit 1', async () => {
    const { config, keysDir } = setUp();
    await goodKey(keysDir);
    const bad = join(keysDir, 'broken.json');
    writeFileSync(bad, '{"kid":', { mode: 0o600 });
    const res = await runCli(['keys', 'list', '-c', config, '--json']);
    expect(res.code).toBe(1);
    expect(JSON.parse(res.stdout)).toHaveLength(1);
    expect(res.stderr).toContain(bad);
  });
});
