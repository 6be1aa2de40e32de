import { pino } from 'pino';

/** The audit record of a token request (one JSON line each). Documented in docs/security-model.md. */
export interface TokenAuditRecord {
  event: 'token_issued' | 'token_refused';
  request_id: string;
  grant_type: string | undefined;
  client_id: string | undefined;
  sub: string | undefined;
  directory: string | undefined;
  roles: readonly string[] | undefined;
  scope: string | undefined;
  audience: string | undefined;
  jti: string | undefined;
  exp: number | undefined;
  outcome: 'issued' | 'refused';
  /** The OAuth error code of a refusal. */
  reason: string | undefined;
  reason_description: string | undefined;
  policy_hash: string;
}

/** The audit record of a proxy decision (one JSON line each). Documented in docs/security-model.md. */
export interface DecisionAuditRecord {
  event: 'proxy_decision';
  request_id: string;
  deployment: string;
  client_id: string | undefined;
  sub: string | undefined;
  roles: readonly string[] | undefined;
  method: string;
  /** The path below the API root, without the query string (which may carry tokens). */
  path: string;
  operation: string | undefined;
  resource: string | undefined;
  action: string | undefined;
  resource_ids: readonly string[];
  decision: 'allow' | 'deny';
  reason: string;
  rule: { role: string; effect: 'allow' | 'deny'; index: number } | undefined;
  filtered: boolean;
  policy_hash: string;
  upstream_status: number | undefined;
}

export interface AuditLog {
  token(record: TokenAuditRecord): void;
  decision(record: DecisionAuditRecord): void;
  flush(): void;
}

/**
 * Writes audit records as JSON lines (buffered, asynchronous) to stdout, stderr or a file. A record carries
 * no token, secret or header: only the fields of its type.
 */
export function createAuditLog(destination: 'stdout' | 'stderr' | { file: string }): AuditLog {
  const dest =
    destination === 'stdout'
      ? pino.destination({ dest: 1, sync: false })
      : destination === 'stderr'
        ? pino.destination({ dest: 2, sync: false })
        : pino.destination({ dest: destination.file, mkdir: true, sync: false });
  const write = (record: object) => void dest.write(JSON.stringify({ time: new Date().toISOString(), log: 'audit', ...record }) + '\n');
  return { token: write, decision: write, flush: () => dest.flushSync() };
}

/** Keeps records in memory: for tests that assert what was audited. */
export class MemoryAuditLog implements AuditLog {
  readonly records: TokenAuditRecord[] = [];
  readonly decisions: DecisionAuditRecord[] = [];
  token(record: TokenAuditRecord): void {
    this.records.push(record);
  }
  decision(record: DecisionAuditRecord): void {
    this.decisions.push(record);
  }
  flush(): void {}
}
