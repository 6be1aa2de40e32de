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

export interface AuditLog {
  token(record: TokenAuditRecord): void;
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
  return {
    token: (record) => void dest.write(JSON.stringify({ time: new Date().toISOString(), log: 'audit', ...record }) + '\n'),
    flush: () => dest.flushSync(),
  };
}

/** Keeps records in memory: for tests that assert what was audited. */
export class MemoryAuditLog implements AuditLog {
  readonly records: TokenAuditRecord[] = [];
  token(record: TokenAuditRecord): void {
    this.records.push(record);
  }
  flush(): void {}
}
