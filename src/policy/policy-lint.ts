import type { SourceProblem, YamlSource } from '../config/yaml-source.js';
import { parseClaimPointer, pointerTo } from './claim-pointer.js';
import { globCovers, globsOverlap, type Glob } from './glob.js';
import { appliesOn, type CompiledGrant, type Policy } from './policy.js';
import type { PolicyDocument } from './schema.js';
import { version1BackfillActions, viewIds, type ResourceKind } from './vocabulary.js';

/** The DAG ids a live Airflow deployment has, to check `dags` patterns against (fetched by the caller). */
export interface LiveDags {
  upstream: string;
  dagIds: readonly string[];
}

/**
 * Warnings about a valid policy: rules that cannot have the effect their author meant. Pure: the policy, its
 * parsed source (for locations) and optionally the live DAG list in, located warnings out, sorted by position.
 *
 * - a role no binding names: no token can carry it;
 * - an allow grant shadowed by another of the same role (same kind, a superset of its actions, and each of its
 *   patterns covered by one pattern of the other), and a pattern covered by another of its own grant;
 * - a deny grant that overlaps no allow grant of any role: it takes nothing away;
 * - an allow grant that covers every resource of its kind (`"*"`, or every view named) in a role some binding
 *   reaches: the widest grant there is deserves a second look, so it names who gets it;
 * - with `live`: a `dags` pattern, of a grant that applies on that deployment, that matches no DAG there;
 * - a `when.claims` key that cannot mean what it says (see {@link lintBindingClaims});
 * - a version-1 policy whose `dags` grants `trigger` or `edit`: those also change backfills there, once, on
 *   `version` (how to move to version 2).
 *
 * Grants limited to deployments count only where they apply (a grant on prod shadows nothing on staging).
 */
export function lintPolicy(policy: Policy, source: YamlSource, live?: LiveDags): SourceProblem[] {
  const warn = (path: PropertyKey[], message: string, key = false) =>
    source.problem(path, message, 'warning', key ? source.locateKey(path) : source.locate(path));
  const problems: SourceProblem[] = [];
  const bound = new Set(policy.document.bindings.map((b) => b.role));
  const allAllows = [...policy.roles.values()].flatMap((r) => r.grants);

  for (const role of policy.roles.values()) {
    const reachedBy = bindingsOf(policy.document, role.name);
    for (const grant of role.grants.filter(coversEveryResource)) {
      if (reachedBy.length === 0) continue; // already reported as unbound
      const noun = KIND_NOUNS[grant.kind];
      const message = `covers every ${noun}: role ${role.name} may ${[...grant.actions].join(', ')} any ${noun}${onDeployments(grant)}, reached by ${reachedBy.join(', ')}`;
      problems.push(warn(['roles', role.name, 'allow', grant.index], message));
    }
    if (!bound.has(role.name)) problems.push(warn(['roles', role.name], 'no binding names this role, so no token can carry it', true));
    for (const grant of role.grants) {
      const at = ['roles', role.name, 'allow', grant.index];
      const by = role.grants.find((other) => other !== grant && grantCovers(other, grant) && (!grantCovers(grant, other) || other.index < grant.index));
      if (by) problems.push(warn(at, `shadowed by allow[${by.index}], which already allows every action here on every id it names`));
      grant.patterns.forEach((pattern, k) => {
        const wider = grant.patterns.find((other, m) => m !== k && globCovers(other, pattern) && (!globCovers(pattern, other) || m < k));
        if (wider) problems.push(warn([...at, grant.kind, k], `"${pattern.source}" is already covered by "${wider.source}" in the same grant`));
      });
    }
    for (const deny of role.denies) {
      if (!allAllows.some((allow) => grantsOverlap(allow, deny))) {
        problems.push(warn(['roles', role.name, 'deny', deny.index], `no role allows any of these actions on these ids${onDeployments(deny)}, so this deny takes nothing away`));
      }
    }
    if (live) {
      for (const grant of [...role.grants, ...role.denies]) {
        if (grant.kind !== 'dags' || !appliesOn(grant, live.upstream)) continue;
        grant.patterns.forEach((pattern, k) => {
          if (pattern.all || live.dagIds.some((id) => pattern.matches(id))) return;
          const at = ['roles', role.name, grant.effect, grant.index, 'dags', k];
          problems.push(warn(at, `"${pattern.source}" matches no DAG of upstream "${live.upstream}" (${live.dagIds.length} DAGs)`));
        });
      }
    }
  }
  problems.push(...lintBindingClaims(policy.document, source));
  const backfillsHidden = version1BackfillWarning(policy);
  if (backfillsHidden) problems.push(warn(['version'], backfillsHidden, true));
  return problems.sort((a, b) => a.line - b.line || a.column - b.column);
}

/**
 * `when.claims` keys that never match or read another claim than meant: a key that is not an RFC 6901 pointer
 * (`realm_access.roles`: "did you mean /realm_access/roles?"), and a pointer to a top-level claim whose name reads
 * like a dotted path (`/realm_access.roles` is the claim named "realm_access.roles"). Also run by `config check`.
 */
export function lintBindingClaims(document: PolicyDocument, source: YamlSource): SourceProblem[] {
  return document.bindings.flatMap((b, i) =>
    Object.keys(b.when.claims ?? {}).flatMap((key) => {
      const message = claimKeyProblem(key);
      const path = ['bindings', i, 'when', 'claims', key];
      return message ? [source.problem(path, message, 'warning', source.locateKey(path))] : [];
    }),
  );
}

/** A dotted path of plain names, e.g. `realm_access.roles` (URL-named claims such as `https://x.example/roles` are not). */
const DOTTED_PATH = /^[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)+$/;

function claimKeyProblem(key: string): string | undefined {
  const pointer = parseClaimPointer(key);
  if (!pointer) {
    if (key.startsWith('/')) return `"${key}" is not a valid RFC 6901 JSON Pointer (write "~" as ~0 and "/" as ~1), so this condition never matches`;
    const meant = pointerTo(DOTTED_PATH.test(key) ? key.split('.') : [key]);
    return `"${key}" is not a JSON Pointer, so this condition never matches: did you mean "${meant}"?`;
  }
  const dotted = pointer.tokens.length === 1 && DOTTED_PATH.test(pointer.tokens[0]!);
  if (dotted) return `"${key}" reads the top-level claim named "${pointer.tokens[0]}"; for the nested claim write "${pointerTo(pointer.tokens[0]!.split('.'))}"`;
  return undefined;
}

/** Version 1 lets `trigger` create backfills over any date range and `edit` pause or cancel them: say how to stop that. */
function version1BackfillWarning(policy: Policy): string | undefined {
  if (policy.version !== 1) return undefined;
  const implying: ReadonlySet<string> = new Set(Object.values(version1BackfillActions));
  const roles = [...policy.roles.values()].filter((r) => r.grants.some((g) => g.kind === 'dags' && [...g.actions].some((a) => implying.has(a))));
  if (roles.length === 0) return undefined;
  return (
    `version 1: "trigger" also creates backfills (over any date range) and "edit" also pauses, unpauses and cancels them ` +
    `(roles ${roles.map((r) => r.name).join(', ')}); to give backfills their own action write "version: 2" and add "backfill" ` +
    `to the dags grants that should keep them (policy diff shows what changes)`
  );
}

const KIND_NOUNS: Record<ResourceKind, string> = {
  dags: 'DAG',
  variables: 'variable',
  connections: 'connection',
  pools: 'pool',
  assets: 'asset',
  views: 'view',
  users: 'user',
  roles: 'role',
};

/** A pattern matching every id, or (views being a closed list) every view id named. */
function coversEveryResource(grant: CompiledGrant): boolean {
  if (grant.patterns.some((p) => p.all)) return true;
  return grant.kind === 'views' && viewIds.every((id) => grant.patterns.some((p) => p.matches(id)));
}

/** The bindings naming a role, as `bindings[i] (groups: a, b; client_id: c)`. */
function bindingsOf(document: PolicyDocument, role: string): string[] {
  return document.bindings.flatMap((b, i) => {
    if (b.role !== role) return [];
    const { claims, ...fields } = b.when;
    const entries = [...Object.entries(fields), ...Object.entries(claims ?? {})];
    const conditions = entries.filter(([, v]) => v !== undefined).map(([key, v]) => `${key}: ${([] as string[]).concat(v!).join(', ')}`);
    return [`bindings[${i}] (${conditions.join('; ')})`];
  });
}

const onDeployments = (g: CompiledGrant) => (g.deployments ? ` on ${[...g.deployments].join(', ')}` : '');

/** Every deployment `inner` applies on, `outer` applies on too. */
const deploymentsCover = (outer: CompiledGrant, inner: CompiledGrant) => !outer.deployments || (!!inner.deployments && [...inner.deployments].every((d) => outer.deployments!.has(d)));

/** Every (id, action) that `inner` names, on every deployment it applies on, `outer` names too. */
function grantCovers(outer: CompiledGrant, inner: CompiledGrant): boolean {
  return (
    outer.kind === inner.kind &&
    deploymentsCover(outer, inner) &&
    [...inner.actions].every((a) => outer.actions.has(a)) &&
    inner.patterns.every((p) => outer.patterns.some((q) => globCovers(q, p)))
  );
}

function grantsOverlap(a: CompiledGrant, b: CompiledGrant): boolean {
  const somewhereBoth = !a.deployments || !b.deployments || [...a.deployments].some((d) => b.deployments!.has(d));
  return a.kind === b.kind && somewhereBoth && [...a.actions].some((x) => b.actions.has(x)) && a.patterns.some((p: Glob) => b.patterns.some((q) => globsOverlap(p, q)));
}
