import { readFileSync } from 'node:fs';
import { validateSource } from '../config/validate-source.js';
import { YamlSource } from '../config/yaml-source.js';
import { Policy } from './policy.js';
import { policySchema } from './schema.js';

/** Parses policy text; throws InvalidFileError with every problem located. */
export function parsePolicy(file: string, text: string): Policy {
  return Policy.fromDocument(validateSource(YamlSource.parse(file, text), policySchema), text);
}

export function readPolicyFile(file: string): Policy {
  return parsePolicy(file, readFileSync(file, 'utf8'));
}
