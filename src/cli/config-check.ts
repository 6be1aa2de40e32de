import { readFileSync } from 'node:fs';
import { configWarnings } from '../config/config-warnings.js';
import { loadConfig } from '../config/load-config.js';
import { readPublishedAirflowKeys } from '../keys/published-airflow-keys.js';
import { InvalidFileError } from '../config/validate-source.js';
import { formatProblem, YamlSource } from '../config/yaml-source.js';
import { parsePolicySource } from '../policy/policy-file.js';
import { lintBindingClaims } from '../policy/policy-lint.js';

/**
 * Validates the config and the policy it names, printing every problem with file:line:column, then the warnings
 * about bindings and directory claims that cannot match (`policy check` lints the policy fully).
 */
export async function configCheck(options: { config: string }): Promise<void> {
  try {
    const loaded = loadConfig(options.config);
    await readPublishedAirflowKeys(loaded.paths.airflowPublishAlso, loaded.config.keys.algorithm); // a KeyMaterialError names the file
    const file = loaded.paths.policyFile;
    const { policy, source } = parsePolicySource(file, readFileSync(file, 'utf8'));
    const warnings = [...configWarnings(loaded.config, YamlSource.read(loaded.file)), ...lintBindingClaims(policy.document, source)];
    for (const w of warnings) process.stderr.write(`${formatProblem(w)}\n`);
    process.stdout.write(`${loaded.file}: ok\n${file}: ok (sha256 ${policy.hash})\n`);
  } catch (err) {
    if (!(err instanceof InvalidFileError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 1;
  }
}
