import { readFileSync } from 'node:fs';
import { InvalidFileError, validateSource } from '../config/validate-source.js';
import { YamlSource } from '../config/yaml-source.js';
import { deploymentNameProblems } from './deployment-names.js';
import { Policy } from './policy.js';
import { policySchema } from './schema.js';

export interface PolicyFileOptions {
  /** The configured upstream names: a `deployments` entry naming anything else is an error. Unchecked when absent. */
  upstreams?: readonly string[];
}

/** Parses policy text; throws InvalidFileError with every problem located. */
export function parsePolicy(file: string, text: string, options: PolicyFileOptions = {}): Policy {
  return parsePolicySource(file, text, options).policy;
}

/** Like `parsePolicy`, keeping the parsed source so that later findings (lint) can be located too. */
export function parsePolicySource(file: string, text: string, options: PolicyFileOptions = {}): { policy: Policy; source: YamlSource } {
  const source = YamlSource.parse(file, text);
  const document = validateSource(source, policySchema);
  if (options.upstreams) {
    const problems = deploymentNameProblems(document, source, options.upstreams);
    if (problems.length) throw new InvalidFileError(file, problems);
  }
  return { policy: Policy.fromDocument(document, text), source };
}

export function readPolicyFile(file: string, options: PolicyFileOptions = {}): Policy {
  return parsePolicy(file, readFileSync(file, 'utf8'), options);
}
