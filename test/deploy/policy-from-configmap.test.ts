// The chart mounts policy.yaml from a ConfigMap and promises that a changed ConfigMap reloads without a restart.
// The kubelet updates such a mount by writing a new timestamped folder and renaming the `..data` symlink onto it
// (policy.yaml itself is a symlink through `..data`): the reloader must see that swap.
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryAuditLog } from '../../src/observability/audit-log.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { PolicyReloader } from '../../src/policy/policy-reloader.js';
import { PolicyStore } from '../../src/policy/policy-store.js';
import { capturedLogger } from '../helpers/captured-logger.js';

/** Writes `text` as the kubelet's next payload and swaps `..data` onto it, as an atomic rename. */
function kubeletUpdate(mount: string, payload: string, text: string): void {
  mkdirSync(join(mount, payload));
  writeFileSync(join(mount, payload, 'policy.yaml'), text);
  symlinkSync(payload, join(mount, '..data_tmp'));
  renameSync(join(mount, '..data_tmp'), join(mount, '..data'));
}

it('policy-reloads-when-its-configmap-changes: the kubelet swaps ..data, the broker takes the new policy', async () => {
  const mount = mkdtempSync(join(tmpdir(), 'atb-configmap-'));
  const first = readFileSync('examples/production/policy.yaml', 'utf8');
  kubeletUpdate(mount, '..2026_12_02_00_00_00.000000001', first);
  symlinkSync(join('..data', 'policy.yaml'), join(mount, 'policy.yaml'));
  const file = join(mount, 'policy.yaml');
  const store = new PolicyStore(parsePolicy(file, first));
  const reloader = new PolicyReloader(file, store, { audit: new MemoryAuditLog(), logger: capturedLogger().logger });
  reloader.watch(20);
  try {
    const before = store.current().hash;
    kubeletUpdate(mount, '..2026_12_02_00_01_00.000000002', `${first}\n# reviewed\n`);
    rmSync(join(mount, '..2026_12_02_00_00_00.000000001'), { recursive: true });
    const deadline = Date.now() + 10_000;
    while (store.current().hash === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(store.current().hash).not.toBe(before);
    expect(reloader.status.lastError).toBeUndefined();
  } finally {
    reloader.stop();
  }
});
