import type { AuditLog, DecisionAuditRecord } from './audit-log.js';
import { boundString } from './bounded-values.js';
import { decisionJson } from './decision-json.js';

/** One remembered decision: its audit line's JSON, the two fields it is found by, and when it was recorded (ms). */
export interface RecentDecision {
  json: string;
  sub: string | undefined;
  clientId: string | undefined;
  time: number;
}

/** Where decisions are also remembered for every instance (`RedisDecisionStream`, src/redis/redis-decision-stream.ts). */
export interface SharedDecisions {
  /** Called on the proxy's path: buffers, never waits. */
  add(entry: RecentDecision): void;
  find(filter: { sub?: string | undefined; client_id?: string | undefined }, limit: number): Promise<Array<DecisionAuditRecord & { time: string }>>;
}

/**
 * The last proxy decisions of this instance, for the admin API ("what did this subject just try?"); given
 * `shared`, each is also sent to the view of every instance. A fixed ring: memory is bounded whatever the traffic.
 * The audit log remains the record of everything.
 */
export class RecentDecisions {
  /**
   * Each decision as its audit line's JSON (bounded like it) and the two fields it is found by: one flat string
   * per entry rather than an object tree. At thousands of calls a second every entry outlives several young
   * generation collections, and a string is copied there without being traced.
   */
  private readonly ring: Array<{ json: string; sub: string | undefined; clientId: string | undefined }> = [];
  /** When each ring entry was recorded (ms); formatted only when read, not on the proxy's hot path. */
  private readonly times: number[] = [];
  private next = 0;

  constructor(
    private readonly capacity = 10_000,
    private readonly shared?: SharedDecisions,
  ) {}

  push(record: DecisionAuditRecord): void {
    const { sub, client_id: clientId } = record;
    const entry = { json: decisionJson(record), sub: sub === undefined ? sub : boundString(sub), clientId: clientId === undefined ? clientId : boundString(clientId) };
    this.ring[this.next] = entry;
    const time = (this.times[this.next] = Date.now());
    this.next = (this.next + 1) % this.capacity;
    this.shared?.add({ ...entry, time });
  }

  /** {@link find} over every instance when decisions are shared (`GET /admin/decisions`), else this one's. */
  async findEverywhere(filter: { sub?: string | undefined; client_id?: string | undefined }, limit: number): Promise<Array<DecisionAuditRecord & { time: string }>> {
    return this.shared ? this.shared.find(filter, limit) : this.find(filter, limit);
  }

  /** Newest first, matching every given field. */
  find(filter: { sub?: string; client_id?: string }, limit: number): Array<DecisionAuditRecord & { time: string }> {
    const out: Array<DecisionAuditRecord & { time: string }> = [];
    const size = this.ring.length;
    for (let i = 1; i <= size && out.length < limit; i++) {
      const at = (this.next - i + this.capacity) % this.capacity;
      const r = this.ring[at]!;
      if ((filter.sub === undefined || r.sub === filter.sub) && (filter.client_id === undefined || r.clientId === filter.client_id)) {
        out.push({ ...(JSON.parse(r.json) as DecisionAuditRecord), time: new Date(this.times[at]!).toISOString() });
      }
    }
    return out;
  }

  /** An audit log that also remembers decisions here, bounded like audit lines (a huge id list stays in no ring). */
  tee(audit: AuditLog): AuditLog {
    return {
      token: (r) => audit.token(r),
      decision: (r) => {
        this.push(r);
        audit.decision(r); // the audit log bounds what it writes (the same line: decisionJson remembers the last one)
      },
      policy: (r) => audit.policy(r),
      admin: (r) => audit.admin(r),
      flush: () => audit.flush(),
    };
  }
}
