import type { ServerResponse } from 'node:http';
import type { AuditLog, DecisionAuditRecord } from '../observability/audit-log.js';
import type { DecisionPart } from '../observability/decision-json.js';
import type { Metrics } from '../observability/metrics.js';
import { ALL } from '../policy/evaluator.js';
import type { PolicyStore } from '../policy/policy-store.js';
import type { RefusedTokenIdentity } from '../tokens/access-token-verifier.js';
import type { TokenRejection } from '../tokens/token-rejection.js';
import type { VerifiedToken } from './authenticate.js';
import type { Decision } from './authorize.js';

/** What one request learned on its way through the proxy's stages, for the audit record. */
export interface ProxyTrail {
  requestId: string;
  deployment: string;
  method: string;
  path: string;
  /** The verified token (its cached roles list lets the audit serialize the token's part once per token). */
  token?: VerifiedToken;
  decision?: Decision;
  /** A CORS preflight the proxy answered itself: no call, nothing to audit. */
  preflight?: true;
  /** The error code when the request ended before a decision. */
  error?: string;
  /** Why the token was refused, and whose it was when its signature verified. */
  rejection?: TokenRejection;
  refusedIdentity?: RefusedTokenIdentity;
  policyHash?: string;
}

/** The last stage, after the answer: one audit record per call (a preflight has none), and its count. */
export function auditProxyCall(s: { audit: AuditLog; metrics: Metrics; policies: PolicyStore }, trail: ProxyTrail, res: ServerResponse): void {
  if (trail.preflight) return;
  const d = trail.decision;
  const part = d ? decisionPartOf(d) : NO_DECISION;
  const record: DecisionAuditRecord = {
    event: 'proxy_decision',
    request_id: trail.requestId,
    deployment: trail.deployment,
    client_id: trail.token?.claims.client_id ?? trail.refusedIdentity?.client_id,
    sub: trail.token?.claims.sub ?? trail.refusedIdentity?.sub,
    roles: trail.token?.roles,
    method: trail.method,
    path: trail.path,
    operation: part.operation,
    resource: part.resource,
    action: part.action,
    resource_ids: part.resource_ids,
    decision: part.decision,
    reason: d ? part.reason : (trail.error ?? 'unknown'),
    rule: part.rule,
    filtered: part.filtered,
    policy_hash: trail.policyHash ?? s.policies.current().hash,
    upstream_status: d?.allowed ? res.statusCode : undefined,
    token_rejection: trail.rejection,
  };
  s.audit.decision(record);
  if (trail.deployment) s.metrics.countProxyDecision(trail.deployment, record.filtered ? 'filtered' : record.decision);
}

const NO_DECISION: DecisionPart = Object.freeze({
  operation: undefined, resource: undefined, action: undefined, resource_ids: Object.freeze([]), decision: 'deny', reason: 'unknown', rule: undefined, filtered: false,
});

/**
 * What a decision gives its audit record, built once per decision and frozen: a decision the proxy reuses
 * (`DecisionCache`) is one object, so its calls share one part, and the audit line serializes it once (`decisionJson`).
 */
const decisionParts = new WeakMap<Decision, DecisionPart>();
function decisionPartOf(d: Decision): DecisionPart {
  let part = decisionParts.get(d);
  if (part) return part;
  const primary = d.operation;
  const op = primary?.operation;
  part = Object.freeze({
    operation: op?.name,
    resource: op && op.access === 'policy' ? op.resource : undefined,
    action: op && op.access === 'policy' ? op.action : undefined,
    resource_ids: Object.freeze(primary && primary.kind === 'checks' ? primary.checks.map((c) => (c.id === ALL ? '*' : c.id)) : []),
    decision: d.allowed ? 'allow' : 'deny',
    reason: d.reason,
    rule: d.rule ? Object.freeze({ role: d.rule.role, effect: d.rule.effect, index: d.rule.index }) : undefined,
    filtered: d.filter !== undefined,
  } as const);
  decisionParts.set(d, part);
  return part;
}
