import { readFileSync } from 'node:fs';
import { validateSource } from '../config/validate-source.js';
import { YamlSource } from '../config/yaml-source.js';
import { Policy } from './policy.js';
import { policySchema } from './schema.js';

/** Parses policy text; throws InvalidFileError with every problem located. */
export function parsePolicy(file: string, text: string): Policy {
  return parsePolicySource(file, text).policy;
}

/** Like `parsePolicy`, keeping the parsed source so that later findings (lint) can be located too. */
export function parsePolicySource(file: string, text: string): { policy: Policy; source: YamlSource } {
  const source = YamlSource.parse(file, text);
  return { policy: Policy.fromDocument(validateSource(source, policySchema), text), source };
}

export function readPolicyFile(file: string): Policy {
  return parsePolicy(file, readFileSync(file, 'utf8'));
}
