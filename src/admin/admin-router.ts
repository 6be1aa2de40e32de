import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { auditRejectedToken } from '../broker/http/audit-rejected-token.js';
import { adminAudience } from '../broker/target.js';
import { explainCall, UnexplainableCall, upstreamApis } from './explain-call.js';
import { principalFromClaimValues, principalFromToken } from './principal-input.js';
import { invalidRequest, OAuthError } from '../errors/oauth-error.js';
import { errorMiddleware } from '../http/error-middleware.js';
import type { Principal } from '../policy/evaluator.js';
import type { Policy } from '../policy/policy.js';
import type { Services } from '../services.js';
import type { AccessTokenClaims } from '../tokens/access-token.js';
import { adminOpenApi } from './admin-openapi.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      admin?: AccessTokenClaims;
    }
  }
}

/** Every route of the admin API below `/admin` (besides the public `GET /admin/openapi.json`). */
export const ADMIN_ROUTES = [
  'GET /policy',
  'POST /policy/reload',
  'POST /explain',
  'POST /revocations',
  'GET /blocks',
  'DELETE /blocks/{kind}/{value}',
  'GET /decisions',
] as const;
type AdminRoute = (typeof ADMIN_ROUTES)[number];

/** Only broker tokens for the admin audience whose roles include an admin role of the current policy. */
function requireAdmin(s: Services) {
  const audience = adminAudience(s.config);
  return async function authenticateAdmin(req: Request, _res: Response, next: NextFunction): Promise<void> {
    // The same checks as at the proxy, for the admin audience: a deployment token is refused here, and vice versa.
    const claims = await s.authenticator.authenticate(req.get('authorization'), audience).catch((err: unknown) => {
      auditRejectedToken(s, req, 'admin', err);
      throw err;
    });
    const policy = s.policies.current();
    if (!claims.scope.split(' ').some((r) => policy.roles.get(r)?.admin)) {
      throw new OAuthError('insufficient_scope', 'the token carries no admin role of the current policy', { extra: { reason: 'not-an-admin' } });
    }
    req.admin = claims;
    next();
  };
}

const explainBody = z.strictObject({
  method: z.string().min(1),
  path: z.string().min(1),
  body: z.unknown().optional(),
  deployment: z.string().optional(),
  token: z.string().optional(),
  /** Checked by principalFromClaimValues, the same reader as `policy explain --claims`. */
  claims: z.record(z.string(), z.unknown()).optional(),
});

const revocationBody = z.union([
  z.strictObject({ jti: z.string().min(1) }),
  z.strictObject({ sub: z.string().min(1) }),
  z.strictObject({ client_id: z.string().min(1) }),
]);

/** Who the explanation is for: a token's roles and narrowing, or an identity bound through the policy. */
function principalFor(policy: Policy, input: z.infer<typeof explainBody>): Principal {
  try {
    if (input.token !== undefined) return principalFromToken(input.token, Date.now()).principal;
    if (input.claims === undefined) throw new Error('give token or claims');
    return principalFromClaimValues(policy, 'claims', input.claims).principal;
  } catch (err) {
    throw invalidRequest((err as Error).message);
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) throw invalidRequest(result.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
  return result.data;
}

/** The admin API. Documented in `adminOpenApi` (served at /admin/openapi.json). */
export function adminRouter(s: Services): Router {
  const router = Router();
  router.get('/admin/openapi.json', (_req, res) => {
    res.json(adminOpenApi);
  });
  const admin = Router();
  admin.use(requireAdmin(s), express.json({ limit: '64kb' }));
  const handlers: Record<AdminRoute, (req: Request, res: Response) => void | Promise<void>> = {
    'GET /policy': (_req, res) => {
      const status = s.policyReloader.status;
      res.set('Cache-Control', 'no-store').json({
        hash: s.policies.current().hash,
        loaded_at: new Date(status.loadedAt).toISOString(),
        last_reload_error: status.lastError ? { ...status.lastError, at: new Date(status.lastError.at).toISOString() } : null,
        policy: s.policies.current().document,
      });
    },

    'POST /policy/reload': (_req, res) => {
      const r = s.policyReloader.reload('admin');
      if (r.outcome === 'reloaded') res.json({ outcome: r.outcome, old_hash: r.oldHash, new_hash: r.newHash });
      else if (r.outcome === 'unchanged') res.json({ outcome: r.outcome, hash: r.hash });
      else res.status(422).json({ outcome: r.outcome, hash: r.hash, problems: r.problems });
    },

    'POST /explain': async (req, res) => {
      const input = parse(explainBody, req.body);
      if (input.deployment !== undefined && !Object.hasOwn(s.config.upstreams, input.deployment)) throw invalidRequest(`deployment: no upstream "${input.deployment}"`);
      const policy = s.policies.current();
      try {
        res.json(await explainCall(policy, principalFor(policy, input), { method: input.method, path: input.path, body: input.body, deployment: input.deployment }, upstreamApis(s.config.upstreams)));
      } catch (err) {
        if (err instanceof UnexplainableCall) throw invalidRequest(err.message);
        throw err;
      }
    },

    'POST /revocations': async (req, res) => {
      const target = parse(revocationBody, req.body);
      const now = s.now();
      // Every token that could still be alive has been issued within max_ttl: keep the rule that long.
      const keepUntil = now + s.config.tokens.max_ttl + 60_000;
      if ('jti' in target) await s.revocations.revoke(target.jti, keepUntil);
      else {
        const [kind, value] = 'sub' in target ? (['sub', target.sub] as const) : (['client_id', target.client_id] as const);
        // Blocked first: no token can then be issued after the cut-off below without being covered by it.
        await s.revocations.block({ kind, value, sinceMs: now, by: req.admin!.sub });
        await s.revocations.revokeAllOf(kind, value, Math.floor(now / 1000), keepUntil);
      }
      s.audit.admin({ event: 'admin_revocation', request_id: req.ctx.requestId, admin_sub: req.admin!.sub, admin_client_id: req.admin!.client_id, target });
      res.status(201).json(target);
    },

    'GET /blocks': async (_req, res) => {
      const blocks = await s.revocations.blocks();
      res.set('Cache-Control', 'no-store').json({ blocks: blocks.map((b) => ({ kind: b.kind, value: b.value, since: new Date(b.sinceMs).toISOString(), by: b.by })) });
    },

    'DELETE /blocks/{kind}/{value}': async (req, res) => {
      const { kind, value } = req.params as { kind: string; value: string };
      if (kind !== 'sub' && kind !== 'client_id') throw invalidRequest('kind must be sub or client_id');
      const lifted = await s.revocations.lift(kind, value);
      if (lifted) {
        s.audit.admin({ event: 'admin_block_lifted', request_id: req.ctx.requestId, admin_sub: req.admin!.sub, admin_client_id: req.admin!.client_id, target: { [kind]: value } });
      }
      res.json({ kind, value, lifted });
    },

    'GET /decisions': async (req, res) => {
      const q = req.query;
      const sub = typeof q.sub === 'string' ? q.sub : undefined;
      const clientId = typeof q.client_id === 'string' ? q.client_id : undefined;
      if (sub === undefined && clientId === undefined) throw invalidRequest('give sub or client_id');
      const limit = q.limit === undefined ? 50 : Number(q.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw invalidRequest('limit must be an integer from 1 to 1000');
      res.set('Cache-Control', 'no-store').json({ decisions: await s.recentDecisions.findEverywhere({ sub, client_id: clientId }, limit) });
    },
  };
  for (const route of ADMIN_ROUTES) {
    const [method, documented] = route.split(' ') as ['GET' | 'POST' | 'DELETE', string];
    const path = documented.replace(/\{(\w+)\}/g, ':$1'); // OpenAPI's `{kind}` is express's `:kind`
    if (method === 'GET') admin.get(path, handlers[route]);
    else if (method === 'DELETE') admin.delete(path, handlers[route]);
    else admin.post(path, handlers[route]);
  }

  router.use('/admin', admin);
  router.use('/admin', errorMiddleware({ scheme: 'Bearer', realm: 'airflow-token-broker' }));
  return router;
}
