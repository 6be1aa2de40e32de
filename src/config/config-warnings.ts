import { pointerTo } from '../policy/claim-pointer.js';
import type { Config } from './schema.js';
import type { SourceProblem, YamlSource } from './yaml-source.js';

/**
 * Warnings about a valid config (printed by `config check`, never refusing a start):
 * - a `directories.<name>.claims.groups` name with dots: a name is one top-level claim, never split at dots, so
 *   `realm_access.roles` reads a claim of that very name ("did you mean /realm_access/roles?");
 * - `token_exchange.algorithms`, the deprecated alias of `directories.<name>.algorithms`.
 */
export function configWarnings(config: Config, source: YamlSource): SourceProblem[] {
  const problems: SourceProblem[] = [];
  for (const [name, dir] of Object.entries(config.directories)) {
    const groups = dir.claims.groups;
    if (!groups.startsWith('/') && groups.includes('.')) {
      const path = ['directories', name, 'claims', 'groups'];
      problems.push(source.problem(path, `"${groups}" is the top-level claim of that name; for a nested claim write a JSON Pointer: did you mean "${pointerTo(groups.split('.'))}"?`, 'warning'));
    }
    if (dir.token_exchange?.algorithms) {
      const path = ['directories', name, 'token_exchange', 'algorithms'];
      problems.push(source.problem(path, `deprecated: write it as directories.${name}.algorithms (it applies to client credentials and token exchange alike)`, 'warning', source.locateKey(path)));
    }
  }
  return problems;
}
