import { z } from 'zod';
import { duration } from '../config/duration.js';
import { upstreamName } from '../config/schema.js';
import { airflowRoles, policyVersions, resourceActions, resourceKinds, viewIds, type ResourceKind } from './vocabulary.js';

/**
 * The policy file owned by security admins. Example:
 *
 * ```yaml
 * version: 2
 * roles:
 *   etl-operator:
 *     token_ttl: 10m
 *     allow:
 *       - dags: ["etl_*"]
 *         actions: [read, trigger, clear]
 * bindings:
 *   - role: etl-operator
 *     when: { groups: airflow-etl }
 *   - role: etl-operator
 *     when: { claims: { "/realm_access/roles": airflow-etl } }   # a Keycloak realm role
 * ```
 *
 * Grants and roles may be limited to named deployments (upstream names of the config); absent means every one:
 *
 * ```yaml
 * roles:
 *   etl-operator:
 *     allow:
 *       - dags: ["etl_*"]
 *         actions: [read]                 # on every deployment
 *       - dags: ["etl_*"]
 *         actions: [trigger, clear]
 *         deployments: [prod]             # only on prod
 *   staging-tester:
 *     deployments: [staging]              # every grant of the role, only on staging
 *     allow:
 *       - dags: ["*"]
 *         actions: [read, trigger]
 * ```
 */

const roleName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'role names use letters, digits, ".", "_" and "-"');
const glob = z.string().min(1, 'an empty pattern matches nothing');
/**
 * The deployments a grant or role is limited to, by upstream name; absent = every deployment. Names are checked
 * against the configured upstreams wherever a config is at hand (`serve`, reload, `config check`, `policy check --config`).
 */
const deployments = z
  .array(upstreamName)
  .min(1, 'an empty list would limit to no deployment: leave deployments out to mean every deployment')
  .refine((names) => new Set(names).size === names.length, 'a deployment is named twice')
  .optional();
const oneOrMany = z.union([z.string(), z.array(z.string()).min(1)]).transform((v) => (Array.isArray(v) ? v : [v]));

/** One grant: exactly one resource kind with its id patterns, and the actions allowed on them. */
const grantSchema = z
  .strictObject({
    dags: z.array(glob).min(1).optional(),
    variables: z.array(glob).min(1).optional(),
    connections: z.array(glob).min(1).optional(),
    pools: z.array(glob).min(1).optional(),
    assets: z.array(glob).min(1).optional(),
    users: z.array(glob).min(1).optional(),
    roles: z.array(glob).min(1).optional(),
    views: z
      .array(z.enum([...viewIds, '*'], { error: `unknown view (known: ${viewIds.join(', ')}, or "*")` }))
      .min(1)
      .optional(),
    actions: z.array(z.string()).min(1),
    deployments,
  })
  .superRefine((grant, ctx) => {
    const kinds = resourceKinds.filter((k) => grant[k] !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `a grant names exactly one of ${resourceKinds.join(', ')} (found ${kinds.length ? kinds.join(', ') : 'none'})`,
      });
      return;
    }
    const allowed: readonly string[] = resourceActions[kinds[0]!];
    grant.actions.forEach((action, i) => {
      if (!allowed.includes(action)) {
        ctx.addIssue({
          code: 'custom',
          path: ['actions', i],
          message: `unknown action "${action}" for ${kinds[0]} (allowed: ${allowed.join(', ')})`,
        });
      }
    });
  });

const roleSchema = z
  .strictObject({
    description: z.string().optional(),
    token_ttl: duration().optional(),
    airflow_role: z.enum(airflowRoles).optional(),
    /** Tokens carrying this role may use the broker's admin API (`/admin`). */
    admin: z.boolean().default(false),
    allow: z.array(grantSchema).default([]),
    /** Deny wins: a call matched by any deny grant of any of the token's roles is refused. */
    deny: z.array(grantSchema).default([]),
    /** Limits every grant of the role, and which tokens get it: a token for another deployment does not. */
    deployments,
  })
  .superRefine((role, ctx) => {
    // A grant limited to a deployment its role excludes could never apply: surely not what was meant.
    if (!role.deployments) return;
    for (const effect of ['allow', 'deny'] as const) {
      role[effect].forEach((grant, i) => {
        grant.deployments?.forEach((d, k) => {
          if (!role.deployments!.includes(d)) {
            ctx.addIssue({ code: 'custom', path: [effect, i, 'deployments', k], message: `the role is limited to ${role.deployments!.join(', ')}, so a grant on "${d}" never applies` });
          }
        });
      });
    }
  });

const bindingSchema = z.strictObject({
  role: roleName,
  when: z
    .strictObject({
      groups: oneOrMany.optional(),
      client_id: oneOrMany.optional(),
      subject: oneOrMany.optional(),
      directory: oneOrMany.optional(),
      /**
       * Any claim of the verified directory token, named by an RFC 6901 JSON Pointer:
       * `{ "/realm_access/roles": airflow-etl }` holds when the value there is the string `airflow-etl` or an array
       * of strings containing it. A key that is not a valid pointer never matches (`policy check` warns).
       */
      claims: z.record(z.string(), oneOrMany).optional(),
    })
    .refine(
      (w) => Object.entries(w).some(([key, v]) => v !== undefined && (key !== 'claims' || Object.keys(v).length > 0)),
      'a binding needs at least one condition',
    ),
});

export const policySchema = z
  .strictObject({
    /** 1 or 2; 2 gives backfills their own dags action `backfill` (version 1: `trigger` and `edit` cover them). */
    version: z.literal(policyVersions, { error: `Invalid input: expected ${policyVersions.join(' or ')}` }),
    roles: z.record(roleName, roleSchema),
    bindings: z.array(bindingSchema).default([]),
  })
  .superRefine(
    (policy, ctx) => {
      policy.bindings.forEach((b, i) => {
        if (typeof b?.role === 'string' && !Object.hasOwn(policy.roles, b.role)) {
          ctx.addIssue({ code: 'custom', path: ['bindings', i, 'role'], message: `binding to undefined role "${b.role}"` });
        }
      });
    },
    // Runs on the partly parsed policy too (zod's default skips it on any other problem), so one run lists all.
    { when: ({ value: v }) => isObject(v) && isObject(v.roles) && Array.isArray(v.bindings) },
  );

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

export type PolicyDocument = z.output<typeof policySchema>;
export type GrantDocument = PolicyDocument['roles'][string]['allow'][number];

export function grantKind(grant: GrantDocument): ResourceKind {
  return resourceKinds.find((k) => grant[k] !== undefined)!;
}
