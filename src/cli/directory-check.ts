import { loadConfig } from '../config/load-config.js';
import { InvalidFileError } from '../config/validate-source.js';
import { Directory } from '../directory/directory.js';
import { readPolicyFile } from '../policy/policy-file.js';
import { readClientSecret, type ClientSecretOptions } from './client-secret.js';
import { directoryReport, formatDirectoryReport } from './directory-report.js';

interface DirectoryCheckOptions extends ClientSecretOptions {
  config: string;
  directory: string;
  clientId: string;
  json?: boolean;
}

/**
 * `directory check`: a live client-credentials grant at one directory of the config, explained beside the current
 * policy. Exit 0 when the client would get at least one role and nothing is wrong, 1 otherwise.
 */
export async function directoryCheck(options: DirectoryCheckOptions): Promise<void> {
  const files = configAndPolicy(options.config);
  if (!files) return;
  const { loaded, policy } = files;
  const config = loaded.config.directories[options.directory];
  if (!config) {
    const known = Object.keys(loaded.config.directories);
    throw new Error(`no directory ${options.directory} in ${loaded.file} (configured: ${known.length ? known.join(', ') : 'none'})`);
  }
  if (!config.client_credentials) {
    throw new Error(`directory ${options.directory} checks no client credentials (it has no client_credentials section): directory check performs a client-credentials grant`);
  }
  const secret = readClientSecret(options);
  const inspection = await new Directory(options.directory, config).inspectClient(options.clientId, secret);
  const report = directoryReport({ name: options.directory, config, clientId: options.clientId, inspection, policy });
  process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatDirectoryReport(report));
  if (!report.ok) process.exitCode = 1;
}

/** The config and its policy, or undefined after printing their located problems (exit 1). */
function configAndPolicy(file: string) {
  try {
    const loaded = loadConfig(file);
    return { loaded, policy: readPolicyFile(loaded.paths.policyFile) };
  } catch (err) {
    if (!(err instanceof InvalidFileError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 1;
    return undefined;
  }
}
