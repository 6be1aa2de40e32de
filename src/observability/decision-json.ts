import type { DecisionAuditRecord } from './audit-log.js';
import { boundString, boundValue, MAX_LOGGED_ITEMS, MAX_LOGGED_STRING } from './bounded-values.js';

/**
 * A proxy decision record as JSON text: exactly what `JSON.stringify(boundValue(record))` writes (same fields, same
 * order, same bounds), without walking the record generically once per request. What repeats is serialized once:
 * the token's part (`client_id`, `sub`, `roles`) per frozen roles list (the proxy's cached token holds one), and
 * the values of a closed set (deployment, operation, resource, action, reason, rule role, policy hash) in a small
 * memo; the decision's part (`operation` to `filtered`) once per frozen ids list (the proxy's audit freezes a reused
 * decision's). What the caller chooses per request (request id, path) is bounded and serialized every time.
 */
export function decisionJson(r: DecisionAuditRecord): string {
  // The recent-decisions ring and the audit log both ask for the same record's line, one after the other.
  // Served once: a record audited again later (changed or not) is written afresh.
  if (r === last.record) {
    last.record = undefined;
    return last.json;
  }
  let out = `{"event":${known(r.event)},"request_id":${text(r.request_id)},"deployment":${known(r.deployment)}`;
  out += tokenPart(r.client_id, r.sub, r.roles);
  out += `,"method":${text(r.method)},"path":${text(r.path)}`;
  out += decisionPart(r);
  out += `,"policy_hash":${known(r.policy_hash)}`;
  if (r.upstream_status !== undefined) out += `,"upstream_status":${JSON.stringify(r.upstream_status)}`;
  if (r.token_rejection !== undefined) out += `,"token_rejection":${known(r.token_rejection)}`;
  last.record = r;
  return (last.json = out + '}');
}

/** The last record written and its line. Records are not changed once audited, so the line stays its own. */
const last: { record: DecisionAuditRecord | undefined; json: string } = { record: undefined, json: '' };


/**
 * The fields `decisionJson` writes, in its order (the order `audit()` builds them in). A
 * field added to `DecisionAuditRecord` and not here fails to compile: the fast path cannot silently drop a field.
 */
export const DECISION_FIELDS = [
  'event', 'request_id', 'deployment', 'client_id', 'sub', 'roles', 'method', 'path', 'operation', 'resource', 'action',
  'resource_ids', 'decision', 'reason', 'rule', 'filtered', 'policy_hash', 'upstream_status', 'token_rejection',
] as const satisfies ReadonlyArray<keyof DecisionAuditRecord>;
type Unwritten = Exclude<keyof DecisionAuditRecord, (typeof DECISION_FIELDS)[number]>;
export const everyDecisionFieldWritten: [Unwritten] extends [never] ? true : Unwritten = true;

const text = (value: string) => JSON.stringify(boundString(value));
const list = (values: readonly string[]) => JSON.stringify(boundValue(values));

/** Values of a closed set (configuration, catalog, policy): a bounded memo, started afresh when full. */
const KNOWN_MAX = 1_024;
const knownText = new Map<string, string>();
function known(value: string): string {
  let json = knownText.get(value);
  if (json === undefined) {
    json = text(value);
    if (value.length > MAX_LOGGED_STRING) return json; // never a large key in the memo
    if (knownText.size >= KNOWN_MAX) knownText.clear();
    knownText.set(value, json);
  }
  return json;
}

/** The fields a decision gives the record, `operation` to `filtered` (the proxy's audit builds one per decision). */
export type DecisionPart = Pick<DecisionAuditRecord, 'operation' | 'resource' | 'action' | 'resource_ids' | 'decision' | 'reason' | 'rule' | 'filtered'>;

/**
 * Keyed by the ids list itself, only a frozen one with a frozen rule or none (the proxy's audit gives a reused
 * decision's record the same two: `proxy-trail.ts`), and served only when every other field is the same too.
 */
const decisionParts = new WeakMap<readonly string[], DecisionPart & { json: string }>();
function decisionPart(r: DecisionPart): string {
  const memo = decisionParts.get(r.resource_ids);
  if (
    memo && memo.rule === r.rule && memo.operation === r.operation && memo.resource === r.resource && memo.action === r.action &&
    memo.decision === r.decision && memo.reason === r.reason && memo.filtered === r.filtered
  ) {
    return memo.json;
  }
  let json = '';
  if (r.operation !== undefined) json += `,"operation":${known(r.operation)}`;
  if (r.resource !== undefined) json += `,"resource":${known(r.resource)}`;
  if (r.action !== undefined) json += `,"action":${known(r.action)}`;
  json += `,"resource_ids":${list(r.resource_ids)},"decision":${known(r.decision)},"reason":${known(r.reason)}`;
  if (r.rule !== undefined) json += `,"rule":{"role":${known(r.rule.role)},"effect":${known(r.rule.effect)},"index":${JSON.stringify(r.rule.index)}}`;
  json += `,"filtered":${r.filtered ? 'true' : 'false'}`;
  if (Object.isFrozen(r.resource_ids) && (r.rule === undefined || Object.isFrozen(r.rule))) {
    const { operation, resource, action, resource_ids, decision, reason, rule, filtered } = r;
    decisionParts.set(r.resource_ids, { operation, resource, action, resource_ids, decision, reason, rule, filtered, json });
  }
  return json;
}

/** Keyed by the roles list itself: only a frozen one, whose items cannot change under the memo. */
const tokenParts = new WeakMap<readonly string[], { client_id: string | undefined; sub: string | undefined; json: string }>();
function tokenPart(client_id: string | undefined, sub: string | undefined, roles: readonly string[] | undefined): string {
  const memo = roles && tokenParts.get(roles);
  if (memo && memo.client_id === client_id && memo.sub === sub) return memo.json;
  let json = '';
  if (client_id !== undefined) json += `,"client_id":${text(client_id)}`;
  if (sub !== undefined) json += `,"sub":${text(sub)}`;
  if (roles !== undefined) json += `,"roles":${list(roles)}`;
  if (roles && Object.isFrozen(roles)) tokenParts.set(roles, { client_id, sub, json });
  return json;
}
