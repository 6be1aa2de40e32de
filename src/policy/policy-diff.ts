import { formatDuration } from '../config/duration.js';
import { compileGlob, globCovers } from './glob.js';
import type { CompiledGrant, CompiledRole, Policy } from './policy.js';
import type { PolicyDocument } from './schema.js';
import { resourceKinds, version1BackfillActions, type BackfillOperation, type PolicyVersion, type ResourceKind } from './vocabulary.js';

/**
 * Deployments as a diff names them: the listed ones, or every deployment but the listed ones (a permission that
 * applied everywhere and is now limited to prod is lost on every deployment but prod, named or not).
 */
export type DeploymentSet = { only: string[] } | { except: string[] };

/** One (resource kind, pattern, action) a role allows or denies; on the deployments given, else on every one. */
export interface Permission {
  kind: ResourceKind;
  pattern: string;
  action: string;
  deployments?: DeploymentSet;
  /**
   * Between policies of different versions, `backfill` is compared per backfill operation, because version 1
   * grants them through `trigger` and `edit`: the operation this permission is about.
   */
  operation?: BackfillOperation;
}

export interface SettingChange {
  setting: 'description' | 'token_ttl' | 'airflow_role' | 'admin' | 'deployments';
  /** `null` when unset (`deployments`: every deployment); `token_ttl` as a duration such as `10m`; `deployments` as `prod, staging`. */
  old: string | boolean | null;
  new: string | boolean | null;
}

/** What changed for one role. Permissions count only when the other side does not already cover them. */
export interface RoleDiff {
  role: string;
  status: 'added' | 'removed' | 'changed';
  settings: SettingChange[];
  allow: { gained: Permission[]; lost: Permission[] };
  deny: { added: Permission[]; removed: Permission[] };
}

type When = PolicyDocument['bindings'][number]['when'];

export interface BindingRef {
  /** Position in its own file's `bindings`. */
  index: number;
  role: string;
  when: When;
}

/**
 * One combination of single condition values (`groups=a directory=corp`, a claim pointer such as
 * `/realm_access/roles=etl`) and the roles it gains or loses.
 */
export interface ConditionDiff {
  when: Atom;
  gains: string[];
  loses: string[];
}

/**
 * The effective change between two policy versions: per role, the permissions gained and lost; per binding,
 * those added and removed; and per condition, the roles it now brings or no longer brings. Reordering roles,
 * grants or bindings, splitting a grant, or adding a pattern an existing glob already covers is no change.
 */
export interface PolicyDiff {
  /** Present when the policy language version changed. */
  version?: { old: PolicyVersion; new: PolicyVersion };
  roles: RoleDiff[];
  bindings: { added: BindingRef[]; removed: BindingRef[] };
  conditions: ConditionDiff[];
}

const conditionKeys = ['groups', 'client_id', 'subject', 'directory'] as const;

const noRole: CompiledRole = { name: '', description: undefined, tokenTtlMs: undefined, airflowRole: undefined, admin: false, grants: [], denies: [], deployments: undefined };

/** Stands for every deployment neither policy names. */
const OTHER = '\u0000other';

export function diffPolicies(before: Policy, after: Policy): PolicyDiff {
  const versions = before.version === after.version ? undefined : { old: before.version, new: after.version };
  const names = [...after.roles.keys(), ...[...before.roles.keys()].filter((r) => !after.roles.has(r))];
  const named = [before, after].flatMap((p) => [...p.roles.values()].flatMap((r) => [...r.grants, ...r.denies].flatMap((g) => [...(g.deployments ?? [])])));
  const universe = [...new Set(named)].sort();
  const roles = names.flatMap((name) => {
    const old = before.roles.get(name);
    const now = after.roles.get(name);
    const d = diffRole(old ?? noRole, now ?? noRole, universe, versions);
    const status = !old ? 'added' : !now ? 'removed' : 'changed';
    const empty = !d.settings.length && !d.allow.gained.length && !d.allow.lost.length && !d.deny.added.length && !d.deny.removed.length;
    return status === 'changed' && empty ? [] : [{ role: name, status, ...d } satisfies RoleDiff];
  });
  const diff = { roles, bindings: diffBindings(before.document.bindings, after.document.bindings), conditions: diffConditions(before, after) };
  return versions ? { version: versions, ...diff } : diff;
}

function diffRole(old: CompiledRole, now: CompiledRole, universe: readonly string[], versions: PolicyDiff['version']): Omit<RoleDiff, 'role' | 'status'> {
  const settings: SettingChange[] = [];
  const ttl = (ms: number | undefined) => (ms === undefined ? null : formatDuration(ms));
  const compare = (setting: SettingChange['setting'], a: string | boolean | null, b: string | boolean | null) => {
    if (a !== b) settings.push({ setting, old: a, new: b });
  };
  compare('description', old.description ?? null, now.description ?? null);
  compare('token_ttl', ttl(old.tokenTtlMs), ttl(now.tokenTtlMs));
  compare('airflow_role', old.airflowRole ?? null, now.airflowRole ?? null);
  compare('admin', old.admin, now.admin);
  compare('deployments', old.deployments?.join(', ') ?? null, now.deployments?.join(', ') ?? null);
  const [oldAllow, newAllow, oldDeny, newDeny] = [
    permissions(old.grants, universe, versions?.old),
    permissions(now.grants, universe, versions?.new),
    permissions(old.denies, universe, versions?.old),
    permissions(now.denies, universe, versions?.new),
  ];
  const changed = (these: PermissionAtom[], those: PermissionAtom[]) => grouped(uncovered(these, those), universe);
  return {
    settings,
    allow: { gained: changed(newAllow!, oldAllow!), lost: changed(oldAllow!, newAllow!) },
    deny: { added: changed(newDeny!, oldDeny!), removed: changed(oldDeny!, newDeny!) },
  };
}

/** One (kind, pattern, action[, backfill operation]) on one deployment: a name of `universe`, or OTHER. */
interface PermissionAtom {
  kind: ResourceKind;
  pattern: string;
  action: string;
  operation?: BackfillOperation;
  deployment: string;
}

/**
 * Every (kind, pattern, action, deployment) of the grants, once, in policy order. With `perBackfill` (the version
 * of a policy compared with one of another version) `backfill` becomes one atom per backfill operation the grant
 * reaches under that version.
 */
function permissions(grants: readonly CompiledGrant[], universe: readonly string[], perBackfill?: PolicyVersion): PermissionAtom[] {
  const seen = new Map<string, PermissionAtom>();
  for (const g of grants) {
    const add = (a: Omit<PermissionAtom, 'deployment'>) => {
      for (const deployment of g.deployments ?? [...universe, OTHER]) seen.set(JSON.stringify([a.kind, a.pattern, a.action, a.operation, deployment]), { ...a, deployment });
    };
    for (const p of g.patterns) {
      for (const action of g.actions) if (!(perBackfill && action === 'backfill')) add({ kind: g.kind, pattern: p.source, action });
      if (!perBackfill || g.kind !== 'dags') continue;
      for (const [operation, before] of Object.entries(version1BackfillActions) as Array<[BackfillOperation, string]>) {
        if (g.actions.has('backfill') || (perBackfill === 1 && g.actions.has(before))) add({ kind: g.kind, pattern: p.source, action: 'backfill', operation });
      }
    }
  }
  return [...seen.values()];
}

/** The atoms of `these` that no atom of `those` covers. */
function uncovered(these: readonly PermissionAtom[], those: readonly PermissionAtom[]): PermissionAtom[] {
  return these.filter((p) => {
    const glob = compileGlob(p.pattern);
    return !those.some((q) => q.kind === p.kind && q.action === p.action && q.operation === p.operation && q.deployment === p.deployment && globCovers(compileGlob(q.pattern), glob));
  });
}

/** PermissionAtoms back into permissions, one per (kind, pattern, action, operation), with the deployments they change on. */
function grouped(atoms: readonly PermissionAtom[], universe: readonly string[]): Permission[] {
  const byPermission = new Map<string, { permission: Permission; on: Set<string> }>();
  for (const { deployment, ...permission } of atoms) {
    const key = JSON.stringify([permission.kind, permission.pattern, permission.action, permission.operation]);
    const entry = byPermission.get(key) ?? { permission, on: new Set<string>() };
    entry.on.add(deployment);
    byPermission.set(key, entry);
  }
  return [...byPermission.values()].map(({ permission, on }) => {
    if (!on.has(OTHER)) return { ...permission, deployments: { only: universe.filter((d) => on.has(d)) } };
    const except = universe.filter((d) => !on.has(d));
    return except.length ? { ...permission, deployments: { except } } : permission;
  });
}

/**
 * A binding's conditions by key: the identity fields, then each `when.claims` pointer as its own key (one that is
 * not a pointer as `claims.<key>`, so that it never reads as a field).
 */
function conditionsOf(when: When): Array<[string, readonly string[]]> {
  const { claims, ...fields } = when;
  const entries: Array<[string, readonly string[]]> = conditionKeys.flatMap((k) => (fields[k] ? [[k, fields[k]] as [string, string[]]] : []));
  for (const [key, values] of Object.entries(claims ?? {})) entries.push([key.startsWith('/') ? key : `claims.${key}`, values]);
  return entries;
}

const byKey = <T>(a: [string, T], b: [string, T]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

function whenKey(when: When): string {
  return JSON.stringify(conditionsOf(when).map(([k, v]): [string, string[]] => [k, [...v].sort()]).sort(byKey));
}

function diffBindings(before: PolicyDocument['bindings'], after: PolicyDocument['bindings']): PolicyDiff['bindings'] {
  const unmatched = before.map((b, index) => ({ index, role: b.role, when: b.when }));
  const added: BindingRef[] = [];
  after.forEach((b, index) => {
    const at = unmatched.findIndex((o) => o.role === b.role && whenKey(o.when) === whenKey(b.when));
    if (at >= 0) unmatched.splice(at, 1);
    else added.push({ index, role: b.role, when: b.when });
  });
  return { added, removed: unmatched };
}

type Atom = Record<string, string>;

/** A binding's `when` as the combinations of single values it accepts (lists are alternatives). */
function atoms(when: When): Atom[] {
  let result: Atom[] = [{}];
  for (const [key, values] of conditionsOf(when)) result = result.flatMap((atom) => values.map((v) => ({ ...atom, [key]: v })));
  return result;
}

/** `narrow` holds whenever `wide` does (wide's conditions are a subset of narrow's). */
const implies = (narrow: Atom, wide: Atom) => Object.entries(wide).every(([k, v]) => narrow[k] === v);

function diffConditions(before: Policy, after: Policy): ConditionDiff[] {
  const bound = (p: Policy) => p.document.bindings.flatMap((b) => atoms(b.when).map((atom) => ({ atom, role: b.role })));
  const [old, now] = [bound(before), bound(after)];
  const order = new Map<string, Atom>();
  for (const { atom } of [...now, ...old]) order.set(JSON.stringify(Object.entries(atom).sort(byKey)), atom);
  const rolesAt = (list: typeof old, atom: Atom) => new Set(list.filter((b) => implies(atom, b.atom)).map((b) => b.role));
  const exactly = (list: typeof old, atom: Atom) => [...new Set(list.filter((b) => implies(atom, b.atom) && implies(b.atom, atom)).map((b) => b.role))];
  return [...order.values()].flatMap((atom) => {
    const [had, has] = [rolesAt(old, atom), rolesAt(now, atom)];
    const gains = exactly(now, atom).filter((r) => !had.has(r));
    const loses = exactly(old, atom).filter((r) => !has.has(r));
    return gains.length || loses.length ? [{ when: atom, gains, loses }] : [];
  });
}

const byKind = (a: Permission, b: Permission) => resourceKinds.indexOf(a.kind) - resourceKinds.indexOf(b.kind);

const onDeployments = (d: DeploymentSet | undefined) =>
  !d ? '' : 'only' in d ? ` (on ${d.only.join(', ')})` : ` (on every deployment but ${d.except.join(', ')})`;

/** `dags "etl_*": read, trigger, backfill (create_backfill, ...)`, one line per kind, pattern and deployments. */
function permissionLines(sign: string, effect: string, list: readonly Permission[]): string[] {
  const groups = new Map<string, { kind: ResourceKind; pattern: string; actions: string[]; backfills: string[]; on: string }>();
  for (const p of [...list].sort(byKind)) {
    const on = onDeployments(p.deployments);
    const key = JSON.stringify([p.kind, p.pattern, on]);
    const group = groups.get(key) ?? { kind: p.kind, pattern: p.pattern, actions: [], backfills: [], on };
    if (p.operation) group.backfills.push(p.operation);
    else group.actions.push(p.action);
    groups.set(key, group);
  }
  return [...groups.values()].map((g) => {
    const actions = g.backfills.length ? [...g.actions, `backfill (${g.backfills.join(', ')})`] : g.actions;
    return `  ${sign} ${effect} ${g.kind} ${JSON.stringify(g.pattern)}: ${actions.join(', ')}${g.on}`;
  });
}

const show = (s: SettingChange, v: string | boolean | null) =>
  v === null ? (s.setting === 'deployments' ? '(every deployment)' : '(unset)') : s.setting === 'description' ? JSON.stringify(v) : String(v);

/** `{groups: a, /realm_access/roles: [x, y]}`, from a binding's conditions or one atom's. */
export function formatWhen(conditions: ReadonlyArray<[string, string | readonly string[]]>): string {
  const parts = conditions.map(([k, v]) => `${k}: ${typeof v === 'string' ? v : v.length === 1 ? v[0] : `[${v.join(', ')}]`}`);
  return `{${parts.join(', ')}}`;
}

/** The diff for a code review: one block per changed role, then bindings, then who gains or loses which role. */
export function formatPolicyDiff(diff: PolicyDiff): string {
  const lines: string[] = [];
  if (diff.version) {
    const meaning = diff.version.new === 2 ? '"trigger" and "edit" no longer cover backfills' : '"trigger" and "edit" cover backfills again';
    lines.push(`version: ${diff.version.old} -> ${diff.version.new} (${meaning})`);
  }
  for (const r of diff.roles) {
    lines.push(`role ${r.role} (${r.status})`);
    for (const s of r.settings) lines.push(`  ${s.setting}: ${show(s, s.old)} -> ${show(s, s.new)}`);
    lines.push(...permissionLines('+', 'allow', r.allow.gained), ...permissionLines('-', 'allow', r.allow.lost));
    lines.push(...permissionLines('+', 'deny', r.deny.added), ...permissionLines('-', 'deny', r.deny.removed));
  }
  const { added, removed } = diff.bindings;
  if (added.length || removed.length) {
    lines.push('bindings');
    for (const b of removed) lines.push(`  - [${b.index}] ${b.role} when ${formatWhen(conditionsOf(b.when))}`);
    for (const b of added) lines.push(`  + [${b.index}] ${b.role} when ${formatWhen(conditionsOf(b.when))}`);
  }
  if (diff.conditions.length) {
    lines.push('who gets which roles');
    for (const c of diff.conditions) {
      const change = [c.gains.length ? `gains ${c.gains.join(', ')}` : '', c.loses.length ? `loses ${c.loses.join(', ')}` : ''];
      lines.push(`  ${formatWhen(Object.entries(c.when))}: ${change.filter(Boolean).join('; ')}`);
    }
  }
  return lines.length ? `${lines.join('\n')}\n` : 'no effective change\n';
}
