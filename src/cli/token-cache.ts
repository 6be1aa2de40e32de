import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** A person's token, as `airflow-token-broker login` got it for one deployment of one broker. */
export interface CachedToken {
  issuer: string;
  deployment: string;
  /** The deployment's audience (RFC 8707 `resource`) the token is for. */
  resource: string;
  access_token: string;
  scope: string;
  /** Epoch milliseconds. */
  expires_at: number;
}

interface CacheFile {
  version: 1;
  tokens: Record<string, CachedToken>;
}

/** `$XDG_CACHE_HOME/airflow-token-broker/tokens.json`, by default `~/.cache/airflow-token-broker/tokens.json`. */
export function defaultTokenCachePath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'airflow-token-broker', 'tokens.json');
}

/**
 * The CLI's cache of people's tokens: one file readable by its owner only (0600, in a 0700 directory), one entry per
 * broker and deployment, replaced atomically so a concurrent reader never sees half a file. Expired entries are
 * kept until replaced or removed (`logout`): they say which login to repeat.
 */
export class TokenCache {
  constructor(readonly path: string = defaultTokenCachePath()) {}

  get(issuer: string, deployment: string): CachedToken | undefined {
    return this.read().tokens[key(issuer, deployment)];
  }

  /** Every entry of one broker. */
  forIssuer(issuer: string): CachedToken[] {
    return Object.values(this.read().tokens).filter((t) => t.issuer === normal(issuer));
  }

  put(token: CachedToken): void {
    const file = this.read();
    file.tokens[key(token.issuer, token.deployment)] = { ...token, issuer: normal(token.issuer) };
    this.write(file);
  }

  /** Removes the entries of one broker (one deployment, or all of them) and answers them. */
  remove(issuer: string, deployment?: string): CachedToken[] {
    const file = this.read();
    const removed = Object.entries(file.tokens).filter(([, t]) => t.issuer === normal(issuer) && (deployment === undefined || t.deployment === deployment));
    for (const [k] of removed) delete file.tokens[k];
    if (removed.length > 0) this.write(file);
    return removed.map(([, t]) => t);
  }

  private read(): CacheFile {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, tokens: {} };
      throw err;
    }
    const parsed = JSON.parse(text) as Partial<CacheFile>;
    if (parsed.version !== 1 || typeof parsed.tokens !== 'object' || parsed.tokens === null) throw new Error(`${this.path} is not a token cache of this version: remove it and log in again`);
    return parsed as CacheFile;
  }

  private write(file: CacheFile): void {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const temporary = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 });
    chmodSync(temporary, 0o600); // a umask never widens it, and an old file's mode is not kept
    renameSync(temporary, this.path);
  }
}

function normal(issuer: string): string {
  return issuer.replace(/\/+$/, '');
}

function key(issuer: string, deployment: string): string {
  return `${normal(issuer)} ${deployment}`;
}
