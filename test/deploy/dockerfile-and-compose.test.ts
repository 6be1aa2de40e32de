// Issue #14 item 4: the Dockerfile and compose.yaml checked by the tools operators use, installed from package
// registries (scripts/ensure-deploy-tools.sh). What needs a container engine (building the image, running it) is
// not done here: docs/operations.md, "What npm test checks".
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ensureDeployTools, INSTALL_TIMEOUT_MS, runTool, type DeployTools } from '../helpers/deploy-tools.js';

let tools: DeployTools;
beforeAll(() => {
  tools = ensureDeployTools();
}, INSTALL_TIMEOUT_MS);

describe('docker/Dockerfile', () => {
  it('dockerfile-passes-hadolint: no finding at any level', () => {
    const res = runTool(tools.hadolint, ['--no-color', '--failure-threshold', 'info', 'docker/Dockerfile']);
    expect(res.stdout + res.stderr).toBe('');
    expect(res.code).toBe(0);
  });
});

describe('the build context (.dockerignore)', () => {
  const ignored = () =>
    readFileSync('.dockerignore', 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));

  it('build-context-leaves-out-keys-and-local-state: private keys, modules and data never reach the builder', () => {
    expect(ignored()).toEqual(expect.arrayContaining(['keys', 'node_modules', 'dist', 'data', '.git', 'docker/broker.env']));
  });

  it('what the Dockerfile copies from the context is not ignored', () => {
    const copied = [...readFileSync('docker/Dockerfile', 'utf8').matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/));
    expect(copied).toEqual(expect.arrayContaining(['package.json', 'src', 'console']));
    for (const path of copied) expect({ path, ignored: ignored().some((p) => path === p || path.startsWith(`${p}/`)) }).toEqual({ path, ignored: false });
  });
});

describe('docker/compose.yaml', () => {
  it('compose-file-passes-docker-compose-config', () => {
    // compose resolves its env_file and the build context against the file's folder: lay them out as a checkout.
    const root = mkdtempSync(join(tmpdir(), 'atb-compose-'));
    cpSync('docker', join(root, 'docker'), { recursive: true });
    writeFileSync(join(root, 'docker/broker.env'), 'REDIS_URL=redis://redis:6379/0\n');
    const res = runTool(tools.compose, ['-f', join(root, 'docker/compose.yaml'), 'config', '--format', 'json']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const broker = (parse(res.stdout) as { services: Record<string, any> }).services.broker;
    // What the file promises once compose has read it: the public port on the host's loopback only, the ops port
    // nowhere, the config read-only, the root file system read-only.
    expect(broker.ports).toEqual([expect.objectContaining({ host_ip: '127.0.0.1', target: 8400, published: '8400' })]);
    expect(broker.read_only).toBe(true);
    expect(broker.environment).toEqual(expect.objectContaining({ REDIS_URL: 'redis://redis:6379/0' }));
  });
});
