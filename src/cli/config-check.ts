import { loadConfig } from '../config/load-config.js';
import { InvalidFileError } from '../config/validate-source.js';
import { readPolicyFile } from '../policy/policy-file.js';

/** Validates the config and the policy it names, printing every problem with file:line:column. */
export async function configCheck(options: { config: string }): Promise<void> {
  try {
    const loaded = loadConfig(options.config);
    const policy = readPolicyFile(loaded.paths.policyFile);
    process.stdout.write(`${loaded.file}: ok\n${loaded.paths.policyFile}: ok (sha256 ${policy.hash})\n`);
  } catch (err) {
    if (!(err instanceof InvalidFileError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 1;
  }
}
