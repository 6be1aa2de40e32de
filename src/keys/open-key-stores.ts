import type { LoadedConfig } from '../config/load-config.js';
import type { Logger } from '../observability/logger.js';
import { KeyMaterialError, type KeyProblem } from './key-file.js';
import { KeyStore } from './key-store.js';
import { readPublishedAirflowKeys, type PublishedAirflowKey } from './published-airflow-keys.js';

/** The two key sets: `broker` signs client access tokens, `airflow` the per-caller tokens of `trusted-jwks` upstreams. */
export type KeySetName = 'broker' | 'airflow';

export const generateCommand = (set: KeySetName) => `airflow-token-broker keys generate${set === 'broker' ? '' : ` --set ${set}`}`;

/**
 * Opens the client-token key store and the Airflow key store, creating a first key where the config allows it.
 * Run once before workers start, so that every worker signs with the same key. Broken key material (a bad
 * file, an unreadable directory) refuses the start with a KeyMaterialError naming each file.
 */
export async function openKeyStores(loaded: LoadedConfig, logger: Logger, now: () => number): Promise<{ keys: KeyStore; airflowKeys: KeyStore }> {
  const { config, paths } = loaded;
  const open = async (dir: string, needed: boolean, what: string, set: KeySetName, publishAlso?: readonly PublishedAirflowKey[]) => {
    const store = new KeyStore({ dir, algorithm: config.keys.algorithm, maxTokenTtlMs: config.tokens.max_ttl, now, ...(publishAlso ? { publishAlso } : {}) });
    const problems = await store.load();
    if (problems.length > 0) throw new KeyMaterialError(problems);
    if (needed && !store.signingKey()) {
      if (!config.keys.generate_if_missing) throw new Error(`no active ${what} in ${dir} (run: ${generateCommand(set)})`);
      const key = await store.generate();
      logger.warn({ kid: key.kid, dir }, `generated a ${what} (development default: keys.generate_if_missing)`);
    }
    return store;
  };
  const usesTrustedJwks = Object.values(config.upstreams).some((u) => u.credentials?.mode === 'trusted-jwks');
  return {
    keys: await open(paths.keysDir, true, 'signing key', 'broker'),
    airflowKeys: await open(paths.airflowKeysDir, usesTrustedJwks, 'Airflow signing key', 'airflow', await readPublishedAirflowKeys(paths.airflowPublishAlso, config.keys.algorithm)),
  };
}

/** Logs a reload's problems, each naming its file, when they change; the last good keys stay in use meanwhile. */
export function logKeyProblems(logger: Logger, what: string) {
  return (problems: readonly KeyProblem[]) => {
    for (const p of problems) logger.error({ file: p.file, problem: p.problem }, `${what}: ${p.file}: ${p.problem}`);
    if (problems.length === 0) logger.info(`${what}: the key directory reads without problems again`);
  };
}
