import type { AuditLog, DecisionAuditRecord } from './audit-log.js';

/**
 * The last proxy decisions of this instance, for the admin API ("what did this subject just try?"). A fixed
 * ring: memory is bounded whatever the traffic. The audit log remains the record of everything.
 */
export class RecentDecisions {
  private readonly ring: Array<DecisionAuditRecord & { time: string }> = [];
  private next = 0;

  constructor(private readonly capacity = 10_000) {}

  push(record: DecisionAuditRecord): void {
    const entry = { ...record, time: new Date().toISOString() };
    if (this.ring.length < this.capacity) this.ring.push(entry);
    else this.ring[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Newest first, matching every given field. */
  find(filter: { sub?: string; client_id?: string }, limit: number): Array<DecisionAuditRecord & { time: string }> {
    const out: Array<DecisionAuditRecord & { time: string }> = [];
    for (let i = 1; i <= this.ring.length && out.length < limit; i++) {
      const r = this.ring[(this.next - i + this.ring.length) % this.ring.length]!;
      if ((filter.sub === undefined || r.sub === filter.sub) && (filter.client_id === undefined || r.client_id === filter.client_id)) out.push(r);
    }
    return out;
  }

  /** An audit log that also remembers decisions here. */
  tee(audit: AuditLog): AuditLog {
    return {
      token: (r) => audit.token(r),
      decision: (r) => {
        this.push(r);
        audit.decision(r);
      },
      policy: (r) => audit.policy(r),
      admin: (r) => audit.admin(r),
      flush: () => audit.flush(),
    };
  }
}
