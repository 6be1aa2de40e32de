import type { LoadedConfig } from '../config/load-config.js';
import type { Logger } from '../observability/logger.js';
import { KeyStore } from './key-store.js';

/**
 * Opens the client-token key store and the Airflow key store, creating a first key where the config allows it.
 * Run once before workers start, so that every worker signs with the same key.
 */
export async function openKeyStores(loaded: LoadedConfig, logger: Logger, now: () => number): Promise<{ keys: KeyStore; airflowKeys: KeyStore }> {
  const { config, paths } = loaded;
  const open = async (dir: string, needed: boolean, what: string) => {
    const store = new KeyStore({ dir, algorithm: config.keys.algorithm, maxTokenTtlMs: config.tokens.max_ttl, now });
    await store.load();
    if (needed && !store.signingKey()) {
      if (!config.keys.generate_if_missing) throw new Error(`no active ${what} in ${dir} (run: airflow-token-broker keys generate)`);
      const key = await store.generate();
      logger.warn({ kid: key.kid, dir }, `generated a ${what} (development default: keys.generate_if_missing)`);
    }
    return store;
  };
  const usesTrustedJwks = Object.values(config.upstreams).some((u) => u.credentials?.mode === 'trusted-jwks');
  return {
    keys: await open(paths.keysDir, true, 'signing key'),
    airflowKeys: await open(paths.airflowKeysDir, usesTrustedJwks, 'Airflow signing key'),
  };
}
