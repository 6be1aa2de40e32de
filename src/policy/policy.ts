import { createHash } from 'node:crypto';
import { claimAt, claimMatches, parseClaimPointer } from './claim-pointer.js';
import { compileGlob, type Glob } from './glob.js';
import { grantKind, type GrantDocument, type PolicyDocument } from './schema.js';
import type { Action, AirflowRole, PolicyVersion, ResourceKind } from './vocabulary.js';

/** What bindings match on: the identity the central directory vouched for. */
export interface BindingSubject {
  directory: string;
  subject: string;
  clientId: string;
  groups: readonly string[];
  /** The verified token's payload, for `when.claims` (empty where no token was read). */
  claims: Readonly<Record<string, unknown>>;
}

export interface CompiledGrant {
  role: string;
  effect: 'allow' | 'deny';
  /** Position in the role's `allow` list, for explanations. */
  index: number;
  kind: ResourceKind;
  patterns: readonly Glob[];
  actions: ReadonlySet<string>;
  /** The deployments it applies on (its own `deployments`, else its role's); `undefined` = every deployment. */
  deployments: ReadonlySet<string> | undefined;
}

export interface CompiledRole {
  name: string;
  description: string | undefined;
  tokenTtlMs: number | undefined;
  airflowRole: AirflowRole | undefined;
  admin: boolean;
  grants: readonly CompiledGrant[];
  denies: readonly CompiledGrant[];
  /** The role's own `deployments`; `undefined` = every deployment. */
  deployments: readonly string[] | undefined;
}

/**
 * Whether a grant applies on a deployment. With no deployment named (`explain` without one) only the grants
 * limited to none apply: a limited grant is never assumed to apply.
 */
export function appliesOn(grant: CompiledGrant, deployment: string | undefined): boolean {
  return grant.deployments === undefined || (deployment !== undefined && grant.deployments.has(deployment));
}

/**
 * A role that `deployments` keep away from a deployment: the role's own list excludes it, or the role has grants
 * and every one is limited elsewhere. A role limited nowhere keeps today's meaning on every deployment.
 */
export function limitedAwayFrom(role: CompiledRole, deployment: string): boolean {
  if (role.deployments) return !role.deployments.includes(deployment);
  const grants = [...role.grants, ...role.denies];
  return grants.length > 0 && grants.every((g) => !appliesOn(g, deployment));
}

/** One binding of the policy and whether it holds for an identity (`directory check` shows these). */
export interface BindingVerdict {
  /** Position in the policy's `bindings` list. */
  index: number;
  role: string;
  /** The binding's conditions as the policy file writes them. */
  when: Readonly<Record<string, unknown>>;
  holds: boolean;
}

interface CompiledBinding {
  role: string;
  conditions: ReadonlyArray<(identity: BindingSubject) => boolean>;
}

type IdentityField = 'directory' | 'subject' | 'clientId' | 'groups';

/** An immutable, validated policy version with its globs compiled once. */
export class Policy {
  readonly roles: ReadonlyMap<string, CompiledRole>;
  /** The top-level claims that `when.claims` conditions read (`realm_access` for `/realm_access/roles`). */
  readonly claimsRead: ReadonlySet<string>;
  private readonly bindings: readonly CompiledBinding[];

  constructor(
    readonly document: PolicyDocument,
    /** sha256 of the file's bytes: names this version in audit records. */
    readonly hash: string,
  ) {
    const roles = new Map<string, CompiledRole>();
    for (const [name, role] of Object.entries(document.roles)) {
      roles.set(name, {
        name,
        description: role.description,
        tokenTtlMs: role.token_ttl,
        airflowRole: role.airflow_role,
        admin: role.admin,
        grants: role.allow.map((grant, index) => compileGrant(name, 'allow', grant, index, role.deployments)),
        denies: role.deny.map((grant, index) => compileGrant(name, 'deny', grant, index, role.deployments)),
        deployments: role.deployments,
      });
    }
    this.roles = roles;
    this.bindings = document.bindings.map((b) => ({ role: b.role, conditions: compileConditions(b.when) }));
    const pointers = document.bindings.flatMap((b) => Object.keys(b.when.claims ?? {}).map(parseClaimPointer));
    this.claimsRead = new Set(pointers.filter((p) => p !== undefined).map((p) => p.tokens[0]!));
  }

  /** The policy language version the file declares (`version:`). */
  get version(): PolicyVersion {
    return this.document.version;
  }

  /**
   * The action this policy accepts for a check besides the check's own: under version 1, the action that covered
   * it before version 2 gave backfills their own (`trigger` to create one, `edit` to pause, unpause or cancel it).
   */
  alsoAccepted(check: { version1Action?: Action }): Action | undefined {
    return this.document.version === 1 ? check.version1Action : undefined;
  }

  static fromDocument(document: PolicyDocument, bytes: string | Buffer): Policy {
    return new Policy(document, createHash('sha256').update(bytes).digest('hex'));
  }

  /**
   * The roles bound to an identity, in policy order. Matching is exact: no trimming, case folding or Unicode
   * normalisation, because "Admins" and "admins" may be different groups at the directory.
   */
  rolesFor(identity: BindingSubject): string[] {
    const bound = new Set<string>();
    for (const binding of this.bindings) {
      if (holds(binding, identity)) bound.add(binding.role);
    }
    return [...this.roles.keys()].filter((r) => bound.has(r));
  }

  /** The roles of `roles` (in their order) that `deployments` do not keep away from `deployment`; unknown names are dropped. */
  rolesOn(roles: readonly string[], deployment: string): string[] {
    return roles.filter((r) => {
      const role = this.roles.get(r);
      return role !== undefined && !limitedAwayFrom(role, deployment);
    });
  }

  /** Every binding with whether it holds for the identity, in policy order, judged exactly as `rolesFor` does. */
  explainBindings(identity: BindingSubject): BindingVerdict[] {
    return this.bindings.map((binding, index) => ({ index, role: binding.role, when: this.document.bindings[index]!.when, holds: holds(binding, identity) }));
  }
}

function holds(binding: CompiledBinding, identity: BindingSubject): boolean {
  return binding.conditions.every((condition) => condition(identity));
}

function compileGrant(role: string, effect: 'allow' | 'deny', grant: GrantDocument, index: number, roleDeployments: readonly string[] | undefined): CompiledGrant {
  const kind = grantKind(grant);
  // The schema keeps a grant's deployments within its role's, so the narrower list is the grant's own.
  const deployments = grant.deployments ?? roleDeployments;
  return { role, effect, index, kind, patterns: grant[kind]!.map(compileGlob), actions: new Set(grant.actions), deployments: deployments && new Set(deployments) };
}

/** One predicate per key of `when`; a `claims` pointer that is not valid RFC 6901 never holds. */
function compileConditions(when: PolicyDocument['bindings'][number]['when']): Array<(identity: BindingSubject) => boolean> {
  const { claims, ...fields } = when;
  const conditions = Object.entries(fields)
    .filter((entry): entry is [string, string[]] => entry[1] !== undefined)
    .map(([key, values]) => {
      const field: IdentityField = key === 'client_id' ? 'clientId' : (key as IdentityField);
      const accepted = new Set(values);
      return (identity: BindingSubject) => claimMatches(identity[field], accepted);
    });
  for (const [text, values] of Object.entries(claims ?? {})) {
    const pointer = parseClaimPointer(text);
    const accepted = new Set(values);
    conditions.push(pointer ? (identity) => claimMatches(claimAt(identity.claims, pointer), accepted) : () => false);
  }
  return conditions;
}
