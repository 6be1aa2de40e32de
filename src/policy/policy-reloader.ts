import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { formatProblem } from '../config/yaml-source.js';
import { InvalidFileError } from '../config/validate-source.js';
import type { AuditLog } from '../observability/audit-log.js';
import type { Logger } from '../observability/logger.js';
import { parsePolicy } from './policy-file.js';
import type { PolicyStore } from './policy-store.js';

export type ReloadSource = 'watch' | 'signal' | 'admin';

export type ReloadResult =
  | { outcome: 'reloaded'; oldHash: string; newHash: string }
  | { outcome: 'unchanged'; hash: string }
  | { outcome: 'refused'; hash: string; problems: string[] };

export interface ReloadStatus {
  loadedAt: number;
  lastError: { at: number; source: ReloadSource; problems: string[] } | undefined;
}

/**
 * Reloads the policy file on change (file watch, SIGHUP, admin API). The new file is validated before the swap;
 * a bad file never replaces the last good policy: it is logged with the same messages as `policy check`,
 * reported in /readyz and a metric, and audited.
 */
export class PolicyReloader {
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;
  readonly status: ReloadStatus;

  constructor(
    private readonly file: string,
    private readonly store: PolicyStore,
    private readonly deps: { audit: AuditLog; logger: Logger; onResult?: (r: ReloadResult) => void; now?: () => number; upstreams?: readonly string[] },
  ) {
    this.status = { loadedAt: (deps.now ?? Date.now)(), lastError: undefined };
  }

  reload(source: ReloadSource): ReloadResult {
    const now = (this.deps.now ?? Date.now)();
    const old = this.store.current();
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      return this.refuse(source, old.hash, '', [`${this.file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`], now);
    }
    const newHash = createHash('sha256').update(text).digest('hex');
    if (newHash === old.hash) {
      this.status.lastError = undefined;
      return this.done({ outcome: 'unchanged', hash: old.hash });
    }
    try {
      this.store.replace(parsePolicy(this.file, text, { upstreams: this.deps.upstreams }));
    } catch (err) {
      if (!(err instanceof InvalidFileError)) throw err;
      return this.refuse(source, old.hash, newHash, err.problems.map(formatProblem), now);
    }
    this.status.loadedAt = now;
    this.status.lastError = undefined;
    this.deps.audit.policy({ event: 'policy_reloaded', source, old_hash: old.hash, new_hash: newHash, problems: [] });
    this.deps.logger.info({ source, old_hash: old.hash, new_hash: newHash }, 'policy reloaded');
    return this.done({ outcome: 'reloaded', oldHash: old.hash, newHash });
  }

  /** Watches the file's directory (editors and ConfigMaps replace files by rename) and reloads after a pause. */
  watch(debounceMs = 200): void {
    const name = basename(this.file);
    this.watcher = watch(dirname(this.file), (_event, changed) => {
      if (changed !== null && changed !== name && !changed.startsWith('..')) return;
      clearTimeout(this.debounce);
      this.debounce = setTimeout(() => this.reload('watch'), debounceMs);
    });
    this.watcher.on('error', (err) => this.deps.logger.error({ err }, 'policy watch failed'));
  }

  stop(): void {
    clearTimeout(this.debounce);
    this.watcher?.close();
  }

  private refuse(source: ReloadSource, oldHash: string, newHash: string, problems: string[], now: number): ReloadResult {
    this.status.lastError = { at: now, source, problems };
    this.deps.audit.policy({ event: 'policy_reload_refused', source, old_hash: oldHash, new_hash: newHash, problems });
    this.deps.logger.error({ source, problems }, 'policy reload refused; the last good policy stays in force');
    return this.done({ outcome: 'refused', hash: oldHash, problems });
  }

  private done(result: ReloadResult): ReloadResult {
    this.deps.onResult?.(result);
    return result;
  }
}
