import type { DecisionAuditRecord } from '../../src/observability/audit-log.js';
import { boundValue } from '../../src/observability/bounded-values.js';
import { DECISION_FIELDS, decisionJson } from '../../src/observability/decision-json.js';
import { base, records } from '../helpers/decision-records.js';

/** The proxy's audit fast path against the general one: every record must come out as the very same text. */
describe('decisionJson: the audit fast path writes what the general path writes', () => {
  it.each(records)('decision-line-matches-general-path: %s', (_name, record) => {
    expect(decisionJson(record)).toBe(JSON.stringify(boundValue(record)));
  });

  it('decision-line-matches-general-path: every field of the record, in the documented order', () => {
    const full: DecisionAuditRecord = { ...base, token_rejection: 'revoked' };
    expect(Object.keys(JSON.parse(decisionJson(full)) as object)).toEqual([...DECISION_FIELDS]);
    expect(Object.keys(full)).toEqual([...DECISION_FIELDS]);
  });

  it('decision-line-matches-general-path: the same token and operation, again and again (the memoized fragments)', () => {
    for (const [, record] of records) decisionJson(record);
    for (const [, record] of [...records].reverse()) expect(decisionJson(record)).toBe(JSON.stringify(boundValue(record)));
  });

  it('decision-line-matches-general-path: one frozen roles list seen with another client or subject', () => {
    const roles = Object.freeze(['etl-operator', 'viewer']);
    decisionJson({ ...base, roles });
    for (const other of [{ client_id: 'other' }, { sub: 'someone-else' }, { client_id: undefined }, { sub: undefined }]) {
      const record = { ...base, roles, ...other };
      expect(decisionJson(record)).toBe(JSON.stringify(boundValue(record)));
    }
  });

  it('decision-line-matches-general-path: one frozen ids list and rule seen with another decision', () => {
    const resource_ids = Object.freeze(['etl_daily']);
    const rule = Object.freeze({ role: 'etl-operator', effect: 'allow' as const, index: 0 });
    const reused = { ...base, resource_ids, rule };
    decisionJson(reused);
    const others: Array<Partial<DecisionAuditRecord>> = [
      { reason: 'deny-rule-matched' }, { decision: 'deny' }, { filtered: true }, { operation: 'get_dag_source' }, { resource: 'pools' },
      { action: 'trigger' }, { rule: undefined }, { rule: Object.freeze({ ...rule, index: 1 }) }, { rule: { ...rule, role: 'viewer' } },
    ];
    for (const other of others) {
      const record = { ...reused, ...other };
      expect(decisionJson(record)).toBe(JSON.stringify(boundValue(record)));
    }
    expect(decisionJson({ ...reused, request_id: 'next' })).toBe(JSON.stringify(boundValue({ ...reused, request_id: 'next' })));
  });

  it('decision-line-matches-general-path: more distinct values than the memo holds', () => {
    for (let i = 0; i < 3_000; i++) {
      const record = { ...base, deployment: `d${i}`, operation: `op${i % 7}`, policy_hash: `h${i}`, roles: Object.freeze([`r${i}`]) };
      expect(decisionJson(record)).toBe(JSON.stringify(boundValue(record)));
    }
  });
});

it('decision-line-of-a-record-audited-again-is-written-afresh: the remembered line serves one repeat only', () => {
  const record = { ...records[0]![1] };
  const first = decisionJson(record);
  expect(decisionJson(record)).toBe(first); // the ring, then the audit log: the same line
  record.path = '/dags/other_dag';
  expect(decisionJson(record)).toBe(JSON.stringify(boundValue(record)));
});
