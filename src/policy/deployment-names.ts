import type { SourceProblem, YamlSource } from '../config/yaml-source.js';
import type { PolicyDocument } from './schema.js';

/** Where a policy names a deployment: the YAML path of the entry and the name. */
interface NamedDeployment {
  path: PropertyKey[];
  name: string;
}

/** Whether the policy limits anything to deployments (else there is no name to check). */
export function namesDeployments(document: PolicyDocument): boolean {
  return namedDeployments(document).length > 0;
}

function namedDeployments(document: PolicyDocument): NamedDeployment[] {
  return Object.entries(document.roles).flatMap(([role, r]) => {
    const at = (path: PropertyKey[], names: readonly string[] | undefined) => (names ?? []).map((name, k) => ({ path: [...path, 'deployments', k], name }));
    return [
      ...at(['roles', role], r.deployments),
      ...(['allow', 'deny'] as const).flatMap((effect) => r[effect].flatMap((grant, i) => at(['roles', role, effect, i], grant.deployments))),
    ];
  });
}

/**
 * The policy's `deployments` names against the configured upstreams: an error for each name that is not one
 * (with the closest upstream for a likely typo), because a deny limited to a misspelled deployment denies nothing.
 * With `upstreams` undefined (no config at hand) one warning says that the names could not be checked, and why.
 */
export function deploymentNameProblems(document: PolicyDocument, source: YamlSource, upstreams: readonly string[] | undefined, unchecked = 'no config given'): SourceProblem[] {
  const named = namedDeployments(document);
  if (upstreams === undefined) {
    if (!named.length) return [];
    const path = named[0]!.path.slice(0, -1);
    return [source.problem(path, `deployment names could not be checked: ${unchecked}`, 'warning')];
  }
  return named
    .filter((d) => !upstreams.includes(d.name))
    .map((d) => {
      const near = closest(d.name, upstreams);
      const hint = near ? `: did you mean "${near}"?` : ` (upstreams: ${upstreams.join(', ') || 'none'})`;
      return source.problem(d.path, `no upstream "${d.name}" in the config${hint}`);
    });
}

/** The upstream within two edits of `name` (and shorter than it), nearest first: a typo, not another name. */
function closest(name: string, candidates: readonly string[]): string | undefined {
  const scored = candidates.map((c) => ({ c, d: editDistance(name, c) })).filter(({ d }) => d <= 2 && d < name.length);
  return scored.sort((a, b) => a.d - b.d)[0]?.c;
}

/** Levenshtein distance, with a swap of two neighbours counted as one edit (`prdo` is one edit from `prod`). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}
