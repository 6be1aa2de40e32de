import { existsSync, mkdirSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino } from 'pino';
import type { TokenRejection } from '../tokens/token-rejection.js';
import { boundValue } from './bounded-values.js';
import { decisionJson } from './decision-json.js';

/**
 * The audit record of a token request, or of one of our tokens refused at introspection, revocation or the
 * admin API (`token_rejected`). One JSON line each. Documented in docs/security-model.md.
 */
export interface TokenAuditRecord {
  event: 'token_issued' | 'token_refused' | 'token_rejected';
  request_id: string;
  grant_type: string | undefined;
  client_id: string | undefined;
  sub: string | undefined;
  directory: string | undefined;
  roles: readonly string[] | undefined;
  scope: string | undefined;
  audience: string | undefined;
  /** The upstream name the token is for (`admin` for the admin API); undefined for a refusal. */
  deployment: string | undefined;
  jti: string | undefined;
  exp: number | undefined;
  outcome: 'issued' | 'refused';
  /** The OAuth error code of a refusal. */
  reason: string | undefined;
  reason_description: string | undefined;
  policy_hash: string;
  /** `token_rejected` only: where the token was presented. */
  endpoint?: 'introspection' | 'revocation' | 'admin';
  /** `token_rejected` only: the authenticated client that presented it (introspection, revocation). */
  caller_client_id?: string;
  /** `token_rejected` only: why the token was refused. */
  token_rejection?: TokenRejection;
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
  /** Why the caller's token was refused (`reason` is then `invalid_token`); undefined when it was accepted. */
  token_rejection?: TokenRejection;
}

/** A policy change (or a refused one). */
export interface PolicyAuditRecord {
  event: 'policy_reloaded' | 'policy_reload_refused';
  source: 'watch' | 'signal' | 'admin';
  old_hash: string;
  /** The hash of the refused file, for a refusal. */
  new_hash: string;
  problems: readonly string[];
}

/**
 * An admin action, naming who did it: a revocation (by `sub` or `client_id` it also blocks new tokens), or
 * the lifting of such a block (`target` names the subject or client).
 */
export interface AdminAuditRecord {
  event: 'admin_revocation' | 'admin_block_lifted';
  request_id: string;
  admin_sub: string;
  admin_client_id: string;
  target: { jti?: string; sub?: string; client_id?: string };
}

export interface AuditLog {
  token(record: TokenAuditRecord): void;
  decision(record: DecisionAuditRecord): void;
  policy(record: PolicyAuditRecord): void;
  admin(record: AdminAuditRecord): void;
  flush(): void;
}

/** An audit log the process closes last: {@link ClosableAuditLog.close} has written out every line before it resolves. */
export interface ClosableAuditLog extends AuditLog {
  /** Writes out what is buffered and waits for a write under way (a `flush` alone does not); later lines are written synchronously. */
  close(): Promise<void>;
}

/**
 * Writes audit records as JSON lines (buffered, asynchronous) to stdout, stderr or a file. A record carries
 * no token, secret or header: only the fields of its type, each cut to the limits of `bounded-values.ts`
 * (a caller-chosen `client_id`, path or id list cannot make a line large).
 */
export function createAuditLog(destination: 'stdout' | 'stderr' | { file: string; maxBytes: number; maxFiles: number }): ClosableAuditLog {
  let sync = false;
  const open = () =>
    destination === 'stdout'
      ? pino.destination({ dest: 1, sync })
      : destination === 'stderr'
        ? pino.destination({ dest: 2, sync })
        : // Opened synchronously, so a rotated file is writable at once and every rotation happens on time.
          pino.destination({ dest: openSync(destination.file, 'a', 0o600), sync });
  if (typeof destination === 'object') mkdirSync(dirname(destination.file), { recursive: true, mode: 0o700 });
  let dest = open();
  const rotation = typeof destination === 'object' ? destination : undefined;
  let written = rotation && existsSync(rotation.file) ? statSync(rotation.file).size : 0;
  // The lines of one turn of the event loop reach the destination as one write: sonic-boom measures the byte
  // length of what it holds on every write, a cost that grows with each line added while a write is under way.
  let pending: string[] = [];
  const drain = () => {
    if (pending.length === 0) return;
    dest.write(pending.length === 1 ? pending[0]! : pending.join(''));
    pending = [];
  };
  /** `json` is the record's JSON text, bounded (`bounded-values.ts`). */
  const writeLine = (json: string) => {
    // Spliced rather than spread: this runs once per proxied request.
    const line = `{"time":"${isoTimeNow()}","log":"audit",${json.slice(1)}\n`;
    if (rotation) {
      const bytes = Buffer.byteLength(line);
      // Rotate once what is buffered has been written out (never losing a line).
      if (written > 0 && written + bytes > rotation.maxBytes && (drain(), ready(dest))) {
        dest.end();
        rotate(rotation.file, rotation.maxFiles);
        dest = open();
        written = 0;
      }
      written += bytes;
    }
    if (pending.push(line) === 1) setImmediate(drain);
  };
  const write = (record: object) => writeLine(JSON.stringify(boundValue(record)));
  return {
    token: write,
    decision: (record) => writeLine(decisionJson(record)),
    policy: write,
    admin: write,
    flush: () => {
      drain();
      ready(dest);
    },
    close: async () => {
      if (sync) return;
      drain();
      const ending = dest;
      // Lines that come meanwhile (a request cut at the end of the grace is still audited) are written at once.
      sync = true;
      dest = open();
      await new Promise<void>((resolve) => {
        ending.once('close', resolve);
        ending.end();
      });
    },
  };
}

/** `new Date().toISOString()`, formatted once per millisecond however many lines share it. */
let lastMs = Number.NaN;
let lastIso = '';
function isoTimeNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

function ready(dest: { flushSync(): void }): boolean {
  try {
    dest.flushSync();
    return true;
  } catch {
    return false; // still opening
  }
}

/** audit.log -> audit.log.1 -> ... -> audit.log.<maxFiles>, the oldest dropped. */
function rotate(file: string, maxFiles: number): void {
  rmSync(`${file}.${maxFiles}`, { force: true });
  for (let i = maxFiles - 1; i >= 1; i--) if (existsSync(`${file}.${i}`)) renameSync(`${file}.${i}`, `${file}.${i + 1}`);
  renameSync(file, `${file}.1`);
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
  readonly policies: PolicyAuditRecord[] = [];
  policy(record: PolicyAuditRecord): void {
    this.policies.push(record);
  }
  readonly admins: AdminAuditRecord[] = [];
  admin(record: AdminAuditRecord): void {
    this.admins.push(record);
  }
  flush(): void {}
}
