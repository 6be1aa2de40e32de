import type { DecisionAuditRecord } from '../../src/observability/audit-log.js';
import { boundValue } from '../../src/observability/bounded-values.js';
import { MemoryAuditLog } from '../../src/observability/audit-log.js';
import { RecentDecisions } from '../../src/observability/recent-decisions.js';
import { records } from '../helpers/decision-records.js';

const record = (n: number, sub: string): DecisionAuditRecord => ({
  event: 'proxy_decision',
  request_id: `r-${n}`,
  deployment: 'prod',
  client_id: sub,
  sub,
  roles: [],
  method: 'GET',
  path: '/dags',
  operation: 'get_dags',
  resource: 'dags',
  action: 'read',
  resource_ids: [],
  decision: 'allow',
  reason: 'grant-matched',
  rule: undefined,
  filtered: false,
  policy_hash: 'h',
  upstream_status: 200,
});

it('keeps the newest decisions first, forgets the oldest past its capacity, and stamps each with its time', () => {
  const recent = new RecentDecisions(3);
  expect(recent.find({ sub: 'a' }, 10)).toEqual([]);
  recent.push(record(1, 'a'));
  recent.push(record(2, 'b'));
  expect(recent.find({ sub: 'a' }, 10).map((r) => r.request_id)).toEqual(['r-1']);
  recent.push(record(3, 'a'));
  recent.push(record(4, 'a')); // r-1 falls out
  const found = recent.find({ sub: 'a' }, 10);
  expect(found.map((r) => r.request_id)).toEqual(['r-4', 'r-3']);
  expect(Date.parse(found[0]!.time)).not.toBeNaN();
  expect(recent.find({ sub: 'a' }, 1).map((r) => r.request_id)).toEqual(['r-4']);
  expect(recent.find({ client_id: 'b' }, 10).map((r) => r.request_id)).toEqual(['r-2']);
});

it('oversized-decision-in-recent-decisions: the ring keeps bounded records, whatever size the request gave them', () => {
  const recent = new RecentDecisions(3);
  const written: DecisionAuditRecord[] = [];
  const audit = recent.tee({ token: () => {}, decision: (r) => void written.push(r), policy: () => {}, admin: () => {}, flush: () => {} });
  const ids = Array.from({ length: 5_000 }, (_, i) => `payroll_${i}`);
  audit.decision({ ...record(1, 'a'), path: '/' + 'p'.repeat(10_000), resource_ids: ids });
  const [kept] = recent.find({ sub: 'a' }, 1);
  expect(kept!.resource_ids).toHaveLength(33);
  expect(kept!.resource_ids[32]).toBe('…[+4968]');
  expect(kept!.path).toHaveLength(256 + '…[+9745]'.length);
  expect(written).toHaveLength(1); // and the audit log still gets the record
});

it('recent-decisions-bounded-like-audit: the ring serves each record exactly as the audit line bounds it (as JSON, which the admin API sends), the audit log the record itself', () => {
  const recent = new RecentDecisions(records.length);
  const audit = new MemoryAuditLog();
  const teed = recent.tee(audit);
  records.forEach(([, r], i) => teed.decision({ ...r, sub: `s-${i}` }));
  records.forEach(([, r], i) => {
    const { time, ...kept } = recent.find({ sub: boundValue(`s-${i}`) as string }, 1)[0]!;
    expect(Date.parse(time)).not.toBeNaN();
    expect(kept).toEqual(JSON.parse(JSON.stringify(boundValue({ ...r, sub: `s-${i}` }))));
    expect(audit.decisions[i]).toEqual({ ...r, sub: `s-${i}` });
  });
});
