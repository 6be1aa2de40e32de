import type { RedisClientType } from 'redis';
import { OAuthError } from '../errors/oauth-error.js';
import type { DecisionAuditRecord } from '../observability/audit-log.js';
import type { Logger } from '../observability/logger.js';
import type { RecentDecision } from '../observability/recent-decisions.js';

/** A batch is written at most this long after its first decision, or at once when it reaches {@link BATCH}. */
const FLUSH_MS = 200;
const BATCH = 256;
/** Read newest first, this many stream entries per round trip. */
const PAGE = 500;

/**
 * The recent-decisions view of every instance: one capped Redis stream (`XADD ... MAXLEN ~ capacity`), newest
 * read first with `XREVRANGE`. Written off the proxy's path: decisions are buffered and sent as one pipeline every
 * {@link FLUSH_MS} ms, so a proxied call never waits for Redis; a batch Redis cannot take is dropped (logged once
 * per outage) since the audit log remains the record of everything.
 */
export class RedisDecisionStream {
  private buffer: RecentDecision[] = [];
  private timer: NodeJS.Timeout | undefined;
  private failing = false;

  constructor(
    private readonly client: RedisClientType,
    private readonly key: string,
    private readonly capacity: number,
    private readonly logger: Logger,
  ) {}

  /** Remembers one decision (its audit line and the fields it is found by); sent with the next batch. */
  add(entry: RecentDecision): void {
    this.buffer.push(entry);
    if (this.buffer.length >= BATCH) void this.flush();
    else if (!this.timer) this.timer = setTimeout(() => void this.flush(), FLUSH_MS).unref();
  }

  /** Sends what is buffered; resolves when Redis has taken it (or refused it). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.buffer;
    if (batch.length === 0) return;
    this.buffer = [];
    const pipeline = this.client.multi();
    const trim = { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: this.capacity } } as const;
    for (const e of batch) pipeline.xAdd(this.key, '*', { j: e.json, s: e.sub ?? '', c: e.clientId ?? '', t: String(e.time) }, trim);
    try {
      await pipeline.execAsPipeline();
      if (this.failing) this.logger.info({}, 'Redis answers again: recent decisions shared again');
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.logger.warn({ error: err instanceof Error ? err.message : String(err), dropped: batch.length }, 'Redis cannot answer: recent decisions of this instance not shared meanwhile');
      this.failing = true;
    }
  }

  /** Newest first across every instance, matching every given field; 503 while Redis cannot answer. */
  async find(filter: { sub?: string | undefined; client_id?: string | undefined }, limit: number): Promise<Array<DecisionAuditRecord & { time: string }>> {
    const out: Array<DecisionAuditRecord & { time: string }> = [];
    let end = '+';
    for (let read = 0; out.length < limit && read < this.capacity; ) {
      const page = await this.read(end);
      for (const { message } of page) {
        const m = message as Record<string, unknown>;
        if ((filter.sub === undefined || String(m.s) === filter.sub) && (filter.client_id === undefined || String(m.c) === filter.client_id)) {
          out.push({ ...(JSON.parse(String(m.j)) as DecisionAuditRecord), time: new Date(Number(m.t)).toISOString() });
          if (out.length === limit) break;
        }
      }
      if (page.length < PAGE) break;
      read += page.length;
      end = `(${String(page[page.length - 1]!.id)}`;
    }
    return out;
  }

  private async read(end: string) {
    try {
      return (await this.client.xRevRange(this.key, end, '-', { COUNT: PAGE })) ?? [];
    } catch (err) {
      throw new OAuthError('temporarily_unavailable', 'the shared recent-decisions store is unavailable, retry later', { retryAfter: 2, cause: err });
    }
  }
}
