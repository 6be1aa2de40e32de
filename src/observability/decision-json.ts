import type { DecisionAuditRecord } from './audit-log.js';
import { boundString, boundValue, MAX_LOGGED_ITEMS, MAX_LOGGED_STRING } from './bounded-values.js';

/**
 * A proxy decision record as JSON text: exactly what `JSON.stringify(boundValue(record))` writes (same fields, same
 * order, same bounds), without walking the record generically once per request. What repeats is serialized once:
 * the token's part (`client_id`, `sub`, `roles`) per frozen roles list (the proxy's cached token holds one), and
 * the values of a closed set (deployment, operation, resource, action, reason, rule role, policy hash) in a small
 * memo. What the caller chooses per request (request id, path, ids) is bounded and serialized every time.
 */
export function decisionJson(r: DecisionAuditRecord): string {
  let out = `{"event":${known(r.event)},"request_id":${text(r.request_id)},"deployment":${known(r.deployment)}`;
  out += tokenPart(r.client_id, r.sub, r.roles);
  out += `,"method":${text(r.method)},"path":${text(r.path)}`;
  if (r.operation !== undefined) out += `,"operation":${known(r.operation)}`;
  if (r.resource !== undefined) out += `,"resource":${known(r.resource)}`;
  if (r.action !== undefined) out += `,"action":${known(r.action)}`;
  out += `,"resource_ids":${list(r.resource_ids)},"decision":${known(r.decision)},"reason":${known(r.reason)}`;
  if (r.rule !== undefined) out += `,"rule":{"role":${known(r.rule.role)},"effect":${known(r.rule.effect)},"index":${JSON.stringify(r.rule.index)}}`;
  out += `,"filtered":${r.filtered ? 'true' : 'false'},"policy_hash":${known(r.policy_hash)}`;
  if (r.upstream_status !== undefined) out += `,"upstream_status":${JSON.stringify(r.upstream_status)}`;
  if (r.token_rejection !== undefined) out += `,"token_rejection":${known(r.token_rejection)}`;
  return out + '}';
}

/**
 * `boundValue(record)` for a decision record: the very record when each of its values is within the limits (the
 * usual case, checked field by field rather than by a generic walk), the generic bound otherwise.
 */
export function boundDecision(r: DecisionAuditRecord): DecisionAuditRecord {
  const within =
    short(r.event) && short(r.request_id) && short(r.deployment) && short(r.client_id) && short(r.sub) && shortList(r.roles) &&
    short(r.method) && short(r.path) && short(r.operation) && short(r.resource) && short(r.action) && shortList(r.resource_ids) &&
    short(r.decision) && short(r.reason) && (r.rule === undefined || (short(r.rule.role) && short(r.rule.effect))) &&
    short(r.policy_hash) && short(r.token_rejection);
  return within ? r : (boundValue(r) as DecisionAuditRecord);
}

const short = (value: string | undefined) => value === undefined || value.length <= MAX_LOGGED_STRING;
const shortList = (values: readonly string[] | undefined) => values === undefined || (values.length <= MAX_LOGGED_ITEMS && values.every(short));

/**
 * The fields `decisionJson` writes (and `boundDecision` checks), in its order (the order `audit()` builds them in). A
 * field added to `DecisionAuditRecord` and not here fails to compile: the fast paths cannot silently drop a field.
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
