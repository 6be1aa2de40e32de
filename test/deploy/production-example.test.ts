// Issue #14 item 5: examples/production/ is a config for several instances behind a load balancer, checked by
// the same `config check` an operator runs before a deployment.
import { loadConfig } from '../../src/config/load-config.js';
import { imageEnv, PRODUCTION_SECRETS, withEnv } from '../helpers/deploy-files.js';
import { runCli } from '../helpers/run-cli.js';

describe('examples/production', () => {
  it('production-example-passes-config-check: no error, no warning', async () => {
    const res = await runCli(['config', 'check', '--config', 'examples/production/config.yaml'], { env: PRODUCTION_SECRETS });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/production\/config\.yaml: ok\n.*production\/policy\.yaml: ok \(sha256 [0-9a-f]{64}\)/);
  });

  it('production-example-policy-passes-policy-check', async () => {
    const res = await runCli(['policy', 'check', 'examples/production/policy.yaml']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
  });

  it('production-example-runs-as-several-instances: shared stores, shared keys, reachable listeners in the image', () => {
    const { config, paths } = withEnv(PRODUCTION_SECRETS, () => loadConfig('examples/production/config.yaml', imageEnv()));
    expect(new URL(config.issuer).protocol).toBe('https:');
    // What one instance does alone would differ between instances: revocations, sessions, keys of its own.
    expect(config.revocation.store).toBe('redis');
    expect(config.login?.session_store.store).toBe('redis');
    expect(config.keys.generate_if_missing).toBe(false);
    expect([config.server.host, config.server.ops.host]).toEqual(['0.0.0.0', '0.0.0.0']);
    expect(paths.keysDir).toBe('/app/keys');
    expect(config.audit.destination).toBe('stdout');
  });
});
