import { z } from 'zod';
import { OAuthError } from '../errors/oauth-error.js';
import { appliesOn, type Policy } from '../policy/policy.js';
import { resourceActions, resourceKinds, type ResourceKind } from '../policy/vocabulary.js';
import type { AirflowAuthorizationDetail } from '../tokens/access-token.js';

const idList = z.array(z.string().min(1)).min(1);

const detailSchema = z
  .strictObject({
    type: z.literal('airflow'),
    actions: z.array(z.string()).min(1),
    dags: idList.optional(),
    variables: idList.optional(),
    connections: idList.optional(),
    pools: idList.optional(),
    assets: idList.optional(),
    users: idList.optional(),
    roles: idList.optional(),
    views: idList.optional(),
  })
  .superRefine((d, ctx) => {
    const kinds = resourceKinds.filter((k) => d[k] !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({ code: 'custom', message: `names exactly one of ${resourceKinds.join(', ')}` });
      return;
    }
    const allowed: readonly string[] = resourceActions[kinds[0]!];
    for (const a of d.actions) if (!allowed.includes(a)) ctx.addIssue({ code: 'custom', message: `unknown action "${a}" for ${kinds[0]}` });
  });

const invalid = (description: string) => new OAuthError('invalid_authorization_details', description);

/** Parses the RFC 9396 `authorization_details` parameter; only type `airflow` is known. */
export function parseAuthorizationDetails(raw: string | undefined): AirflowAuthorizationDetail[] | undefined {
  if (raw === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw invalid('authorization_details is not valid JSON');
  }
  if (!Array.isArray(parsed) || parsed.length === 0) throw invalid('authorization_details must be a non-empty JSON array');
  return parsed.map((entry, i) => {
    if (typeof entry !== 'object' || entry === null || (entry as { type?: unknown }).type !== 'airflow') {
      throw invalid(`authorization_details[${i}]: unsupported type (supported: airflow)`);
    }
    const result = detailSchema.safeParse(entry);
    if (!result.success) throw invalid(`authorization_details[${i}]: ${result.error.issues.map((x) => x.message).join('; ')}`);
    return result.data as AirflowAuthorizationDetail;
  });
}

/**
 * Narrowing may only take away: every (id, action) of every detail must already be granted by one of the
 * token's roles, on the token's deployment. An id is covered when a grant's glob matches it, or when it is that
 * very glob. For an admin token (`deployment` undefined) only grants limited to no deployment count.
 */
export function assertWithinRoles(details: readonly AirflowAuthorizationDetail[], policy: Policy, roles: readonly string[], deployment: string | undefined): void {
  const grants = roles.flatMap((r) => policy.roles.get(r)?.grants ?? []).filter((g) => appliesOn(g, deployment));
  details.forEach((detail, i) => {
    const kind = resourceKinds.find((k) => detail[k] !== undefined) as ResourceKind;
    for (const id of detail[kind]!) {
      for (const action of detail.actions) {
        const covered = grants.some(
          (g) => g.kind === kind && g.actions.has(action) && g.patterns.some((p) => p.source === id || (!id.includes('*') && p.matches(id))),
        );
        if (!covered) throw invalid(`authorization_details[${i}]: ${action} on ${kind} "${id}" is outside the requested roles`);
      }
    }
  });
}
