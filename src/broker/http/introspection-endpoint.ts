import type { Request, Response } from 'express';
import type { Services } from '../../services.js';
import { auditRejectedToken } from './audit-rejected-token.js';
import { authenticateCaller, clientRequestSteps } from './client-auth-steps.js';

/**
 * RFC 7662. Anything invalid, expired, revoked or not the caller's to see is exactly `{"active": false}`; a revocation
 * store that cannot answer is 503, since neither answer would be true.
 */
export function introspectionEndpoint(s: Services) {
  return [
    ...clientRequestSteps(s),
    authenticateCaller(s),
    introspect(s),
  ];
}

function introspect(s: Services) {
  const allowed = new Set(s.config.introspection.allowed_clients);
  return async function answerIntrospection(req: Request, res: Response): Promise<void> {
    res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
    const token = req.form.get('token');
    const claims = token === undefined ? undefined : await s.verifier.verifyIfValid(token, (err) => auditRejectedToken(s, req, 'introspection', err));
    const caller = req.caller!.clientId;
    if (!claims || (claims.client_id !== caller && !allowed.has(caller))) {
      res.json({ active: false });
      return;
    }
    res.json({ active: true, token_type: 'Bearer', ...claims });
  };
}
