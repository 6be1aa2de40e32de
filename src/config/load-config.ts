import { dirname, resolve } from 'node:path';
import { applyEnvironmentDefaults } from './environment-defaults.js';
import { configSchema, type Config } from './schema.js';
import { validateSource } from './validate-source.js';
import { YamlSource } from './yaml-source.js';

export interface LoadedConfig {
  file: string;
  config: Config;
  /** Absolute paths derived from the config's relative ones. */
  paths: {
    policyFile: string;
    keysDir: string;
    airflowKeysDir: string;
    airflowPublishAlso: Array<{ file: string; kid?: string | undefined }>;
    revocationDb: string;
    auditFile: string | undefined;
  };
}

/**
 * Reads and validates the operator config; throws InvalidFileError listing every problem. Keys the file leaves
 * unset may take their default from `env` (a container image's listen host and state folder:
 * environment-defaults.ts); `${ENV_VAR}` secrets are always read from process.env.
 */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const absolute = resolve(file);
  const source = YamlSource.read(absolute);
  applyEnvironmentDefaults(source.doc, env);
  const config = validateSource(source, configSchema);
  const base = dirname(absolute);
  const dest = config.audit.destination;
  return {
    file: absolute,
    config,
    paths: {
      policyFile: resolve(base, config.policy_file),
      keysDir: resolve(base, config.keys.dir),
      airflowKeysDir: resolve(base, config.keys.airflow_dir),
      airflowPublishAlso: config.keys.airflow_publish_also.map((e) => ({ ...e, file: resolve(base, e.file) })),
      revocationDb: resolve(base, config.revocation.sqlite_path),
      auditFile: dest === 'stdout' || dest === 'stderr' ? undefined : resolve(base, dest),
    },
  };
}
