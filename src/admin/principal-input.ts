import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseAuthorizationDetails } from '../broker/authorization-details.js';
import type { Principal } from '../policy/evaluator.js';
import type { Policy } from '../policy/policy.js';
import { parseCompactJws } from '../tokens/compact-jws.js';

/** Who `policy explain` decides for, and how it found out (printed above the explanation). */
export interface ExplainedPrincipal {
  principal: Principal;
  source: string;
  /** The decoded token's identifying claims, with `--token`. */
  token?: { sub: unknown; client_id: unknown; aud: unknown; exp: unknown; signature_verified: false };
}

function details(raw: unknown): Principal['details'] {
  if (raw === undefined) return undefined;
  try {
    return parseAuthorizationDetails(JSON.stringify(raw));
  } catch (err) {
    throw new Error(`authorization_details: ${(err as Error).message}`);
  }
}

const scopeRoles = (scope: string | string[]) => (Array.isArray(scope) ? scope : scope.split(' ').filter(Boolean));

/**
 * A broker access token, decoded without checking its signature (offline there are no keys to trust): its
 * `scope` roles and `authorization_details` are what the proxy would evaluate if the token is genuine.
 */
export function principalFromToken(token: string, now = Date.now()): ExplainedPrincipal {
  // The proxy refuses any other spelling before verifying anything, so explain must not explain one.
  const claims = parseCompactJws(token.trim())?.payload;
  if (!claims) throw new Error('--token: not a JWT (the proxy accepts only the strict compact serialization)');
  if (typeof claims.scope !== 'string') throw new Error('--token: no scope claim; is this a broker access token?');
  const expired = typeof claims.exp === 'number' && claims.exp * 1000 <= now ? ', expired' : '';
  return {
    principal: { roles: scopeRoles(claims.scope), details: details(claims.authorization_details) },
    source: `token of client_id ${String(claims.client_id)}, sub ${String(claims.sub)}, aud ${String(claims.aud)}${expired} (decoded offline: signature NOT verified)`,
    token: { sub: claims.sub, client_id: claims.client_id, aud: claims.aud, exp: claims.exp, signature_verified: false },
  };
}

const oneOrMany = z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v : [v]));
const claimsSchema = z.looseObject({
  scope: z.union([z.string(), z.array(z.string())]).optional(),
  authorization_details: z.array(z.unknown()).optional(),
  client_id: z.string().optional(),
  sub: z.string().optional(),
  groups: oneOrMany.optional(),
  directory: z.string().optional(),
});

/**
 * A claims file (JSON or YAML): token claims with `scope` (and optionally `authorization_details`), or the
 * identity the directory vouches for (`client_id`, `sub`, `groups`, `directory`), given roles by the bindings.
 * The identity's claims are the whole file, nested ones included, as the broker hands a verified directory
 * token's payload to `when.claims`: `{ client_id: svc, realm_access: { roles: [airflow-etl] } }`.
 */
export function principalFromClaims(policy: Policy, file: string, text: string): ExplainedPrincipal {
  return principalFromClaimValues(policy, file, parseYaml(text));
}

/** The same from claims already parsed (`file` names where they came from, in messages). */
export function principalFromClaimValues(policy: Policy, file: string, claims: unknown): ExplainedPrincipal {
  const parsed = claimsSchema.safeParse(claims);
  if (!parsed.success) throw new Error(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')}`);
  const c = parsed.data;
  if (c.scope !== undefined) return { principal: { roles: scopeRoles(c.scope), details: details(c.authorization_details) }, source: `scope in ${file}` };
  const { authorization_details: _details, ...identityClaims } = claims as Record<string, unknown>;
  const identifying = ['client_id', 'sub', 'groups', 'directory', ...policy.claimsRead];
  if (!identifying.some((name) => Object.hasOwn(identityClaims, name))) {
    throw new Error(`${file}: needs scope, or identity claims (client_id, sub, groups, directory) or a claim the bindings read`);
  }
  const identity = { clientId: c.client_id ?? '', subject: c.sub ?? '', groups: c.groups ?? [], directory: c.directory ?? '', claims: identityClaims };
  return { principal: { roles: policy.rolesFor(identity), details: details(c.authorization_details) }, source: `bindings for the identity in ${file}` };
}
