// Issue #14 item 5: signing keys from a Kubernetes Secret. The kubelet mounts a Secret as `..data` (a symlink
// to a timestamped folder that it swaps on an update) plus one symlink per key, and with the pod's fsGroup makes
// every file group-readable (0440): the broker refuses such key files, so the chart's init container copies them
// owner-only into the pod's keys folder. This runs the chart's own copy script on that layout.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { KeyStore } from '../../src/keys/key-store.js';
import { kubernetesObjects, theObject } from '../helpers/deploy-files.js';
import { ensureDeployTools, INSTALL_TIMEOUT_MS, runTool, type DeployTools } from '../helpers/deploy-tools.js';

let tools: DeployTools;
beforeAll(() => {
  tools = ensureDeployTools();
}, INSTALL_TIMEOUT_MS);

const store = (dir: string) => new KeyStore({ dir, algorithm: 'ES256', maxTokenTtlMs: 3_600_000 });

/** Makes `count` real key files and mounts them the way the kubelet mounts a Secret holding them. */
async function secretMount(root: string, name: string, count: number): Promise<{ dir: string; kids: string[] }> {
  const made = join(root, `${name}-made`);
  const keys = store(made);
  const kids: string[] = [];
  for (let i = 0; i < count; i++) kids.push((await keys.generate(Date.now() - (count - i) * 1000)).kid);
  const dir = join(root, name);
  const payload = join(dir, '..2026_12_02_00_00_00.000000001');
  mkdirSync(payload, { recursive: true });
  for (const file of readdirSync(made)) {
    copyFileSync(join(made, file), join(payload, file));
    chmodSync(join(payload, file), 0o440); // defaultMode 0440, or any mode once fsGroup's 0440 is or-ed in
    symlinkSync(join('..data', file), join(dir, file));
  }
  symlinkSync('..2026_12_02_00_00_00.000000001', join(dir, '..data'));
  return { dir, kids };
}

describe('signing keys from a Kubernetes Secret', () => {
  it('the broker refuses the Secret as the kubelet mounts it (group-readable files)', async () => {
    const { dir } = await secretMount(mkdtempSync(join(tmpdir(), 'atb-secret-')), 'keys', 1);
    const problems = await store(dir).load();
    expect(problems).toEqual([expect.objectContaining({ problem: expect.stringMatching(/readable or writable by group or others \(mode 0440\)/) })]);
  });

  it('keys-from-a-kubernetes-secret-load-after-the-chart-copies-them: every key, owner-only, both sets', async () => {
    const root = mkdtempSync(join(tmpdir(), 'atb-secret-'));
    const broker = await secretMount(root, 'keys', 2);
    const airflow = await secretMount(root, 'airflow-keys', 1);
    const rendered = runTool(tools.helm, ['template', 'atb', 'deploy/helm/airflow-token-broker', '--set', 'secrets.airflowKeys=airflow-keys']);
    expect(rendered.code).toBe(0);
    const spec = theObject(kubernetesObjects(rendered.stdout), 'Deployment').spec.template.spec;
    const copy = (spec.initContainers as any[]).find((c) => c.name === 'copy-keys');
    // The same script, with the pod's paths pointed at this test's folders.
    const target = join(root, 'app-keys');
    mkdirSync(target);
    const script = (copy.command as string[])
      .at(-1)!
      .replaceAll('/var/run/airflow-token-broker/keys', broker.dir)
      .replaceAll('/var/run/airflow-token-broker/airflow-keys', airflow.dir)
      .replaceAll('/app/keys', target);
    const res = spawnSync(copy.command[0], [...copy.command.slice(1, -1), script], { encoding: 'utf8' });
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);

    const keys = store(target);
    expect(await keys.load()).toEqual([]);
    expect(keys.status().map((s) => s.kid).sort()).toEqual([...broker.kids].sort());
    expect(keys.signingKey()?.kid).toBe(broker.kids.at(-1));
    const airflowKeys = store(join(target, 'airflow'));
    expect(await airflowKeys.load()).toEqual([]);
    expect(airflowKeys.signingKey()?.kid).toBe(airflow.kids[0]);
    // Regular files of mode 0600, none of the kubelet's `..data` entries.
    for (const dir of [target, join(target, 'airflow')]) {
      for (const name of readdirSync(dir).filter((n) => n !== 'airflow')) {
        const info = statSync(join(dir, name), { throwIfNoEntry: true });
        expect({ name, file: info.isFile(), mode: (info.mode & 0o777).toString(8) }).toEqual({ name: expect.stringMatching(/\.json$/), file: true, mode: '600' });
      }
    }
  });
});
