import type { DecisionAuditRecord } from '../../src/observability/audit-log.js';

/** Decision records for the audit's fast paths, tested against the general ones: the usual, the over-long, the odd. */
export const base: DecisionAuditRecord = {
  event: 'proxy_decision',
  request_id: 'r-1',
  deployment: 'prod',
  client_id: 'demo-etl',
  sub: 'demo-etl',
  roles: Object.freeze(['etl-operator']),
  method: 'GET',
  path: '/dags/etl_daily',
  operation: 'get_dag',
  resource: 'dag',
  action: 'read',
  resource_ids: ['etl_daily'],
  decision: 'allow',
  reason: 'allowed-by-rule',
  rule: { role: 'etl-operator', effect: 'allow', index: 0 },
  filtered: false,
  policy_hash: 'a'.repeat(64),
  upstream_status: 200,
  token_rejection: undefined,
};

const long = (n: number, c = 'x') => c.repeat(n);
const odd = 'quote" backslash\\ newline\n tab\t nul\u0000 del\u007f line-sep\u2028 lone-surrogate\ud800 emoji😀 ümlaut';

export const records: Array<[string, DecisionAuditRecord]> = [
  ['an allowed call', base],
  ['a refused token, nothing known', { ...base, client_id: undefined, sub: undefined, roles: undefined, operation: undefined, resource: undefined, action: undefined, resource_ids: [], decision: 'deny', reason: 'invalid_token', rule: undefined, upstream_status: undefined, token_rejection: 'revoked' }],
  ['a refused token whose signature verified', { ...base, roles: undefined, decision: 'deny', reason: 'invalid_token', rule: undefined, upstream_status: undefined, token_rejection: 'expired' }],
  ['over-long client_id, sub and path', { ...base, client_id: long(15_000), sub: long(300, 'é'), path: `/dags/${long(12_000)}` }],
  ['a string of exactly the limit, and one over', { ...base, client_id: long(256), sub: long(257) }],
  ['many and long roles (not frozen)', { ...base, roles: Array.from({ length: 40 }, (_, i) => (i === 3 ? long(400) : `role-${i}`)) }],
  ['many and long roles (frozen)', { ...base, roles: Object.freeze(Array.from({ length: 33 }, (_, i) => (i === 0 ? long(300) : `r${i}`))) }],
  ['5,000 resource ids, one over-long', { ...base, resource_ids: Array.from({ length: 5_000 }, (_, i) => (i === 1 ? long(1_000) : `dag_${i}`)) }],
  ['every resource of the kind', { ...base, resource_ids: ['*'], filtered: true }],
  ['odd characters everywhere', { ...base, request_id: odd, client_id: odd, sub: odd, roles: [odd, ''], method: odd, path: odd, operation: odd, resource: odd, action: odd, resource_ids: [odd], reason: odd, rule: { role: odd, effect: 'deny', index: 12 }, policy_hash: odd }],
  ['a cut inside a surrogate pair', { ...base, client_id: `${long(255)}😀😀`, path: `${long(255)}😀` }],
  ['an over-long rule role and reason', { ...base, rule: { role: long(1_000), effect: 'allow', index: 7 }, reason: long(500) }],
  ['empty strings', { ...base, request_id: '', deployment: '', client_id: '', sub: '', method: '', path: '', roles: [] }],
  ['an odd upstream status', { ...base, upstream_status: Number.NaN }],
  ['an unknown rejection code', { ...base, token_rejection: 'other' }],
];

