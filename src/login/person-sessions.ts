import { createHash, randomBytes } from 'node:crypto';
import type { DirectoryIdentity } from '../directory/directory.js';
import { storeOperation, type ExpiringStore } from '../sessions/expiring-store.js';
import type { PersonSession } from './session-reader.js';

/** A token minted for the session on one deployment, kept server side and never sent to the browser. */
export interface SessionToken {
  token: string;
  /** Epoch ms. */
  expiresAt: number;
}

/** What the store holds under `session:<digest of the id>`. */
interface StoredSession {
  identity: DirectoryIdentity;
  csrfToken: string;
  createdAt: number;
  expiresAt: number;
  lastSeenAt: number;
  /** For RP-initiated logout (`id_token_hint`). */
  idToken: string;
  embedded?: { deployment: string };
  tokens?: Record<string, SessionToken>;
}

/** A live session with what only the broker sees. */
export interface LiveSession extends PersonSession {
  idleExpiresAt: number;
  idToken: string;
  tokens: Record<string, SessionToken>;
}

export interface SessionTimeouts {
  idleMs: number;
  absoluteMs: number;
}

/**
 * People's sessions in the shared {@link ExpiringStore}. The id is 32 random bytes (base64url) made at login, and
 * the store key is its SHA-256 (a copy of the store names no usable cookie). A session ends at its absolute
 * timeout, or once unused for the idle timeout; the store's TTL follows the nearer of the two.
 */
export class PersonSessions {
  constructor(
    private readonly store: ExpiringStore,
    private readonly timeouts: SessionTimeouts,
    private readonly now: () => number,
  ) {}

  async create(identity: DirectoryIdentity, idToken: string, embedded?: { deployment: string }): Promise<LiveSession> {
    const now = this.now();
    const stored: StoredSession = {
      identity,
      csrfToken: randomBytes(32).toString('base64url'),
      createdAt: now,
      expiresAt: now + this.timeouts.absoluteMs,
      lastSeenAt: now,
      idToken,
      ...(embedded ? { embedded } : {}),
    };
    const id = randomBytes(32).toString('base64url');
    await this.save(id, stored);
    return live(id, stored, this.timeouts.idleMs);
  }

  /** The session if it is still live; a use refreshes its idle end (written back at most every tenth of it). */
  async read(id: string): Promise<LiveSession | undefined> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
    const text = await storeOperation('session', () => this.store.get(key(id)));
    if (text === undefined) return undefined;
    const stored = JSON.parse(text) as StoredSession;
    const now = this.now();
    if (now >= stored.expiresAt || now - stored.lastSeenAt >= this.timeouts.idleMs) {
      await this.end(id);
      return undefined;
    }
    if (now - stored.lastSeenAt >= this.timeouts.idleMs / 10) {
      stored.lastSeenAt = now;
      await this.save(id, stored);
    }
    return live(id, stored, this.timeouts.idleMs);
  }

  /** Keeps a minted token with the session (it never outlives the session: see the proxy's session step). */
  async keepToken(session: LiveSession, deployment: string, token: SessionToken): Promise<void> {
    const text = await storeOperation('session', () => this.store.get(key(session.id)));
    if (text === undefined) return;
    const stored = JSON.parse(text) as StoredSession;
    stored.tokens = { ...stored.tokens, [deployment]: token };
    await this.save(session.id, stored);
  }

  async end(id: string): Promise<void> {
    await storeOperation('session', () => this.store.delete(key(id)));
  }

  private async save(id: string, stored: StoredSession): Promise<void> {
    const ttl = Math.min(stored.expiresAt - this.now(), stored.lastSeenAt + this.timeouts.idleMs - this.now());
    await storeOperation('session', () => this.store.set(key(id), JSON.stringify(stored), ttl));
  }
}

function key(id: string): string {
  return `session:${createHash('sha256').update(id).digest('base64url')}`;
}

function live(id: string, s: StoredSession, idleMs: number): LiveSession {
  return {
    id,
    identity: s.identity,
    csrfToken: s.csrfToken,
    createdAt: s.createdAt,
    expiresAt: s.expiresAt,
    idleExpiresAt: Math.min(s.lastSeenAt + idleMs, s.expiresAt),
    idToken: s.idToken,
    tokens: s.tokens ?? {},
    ...(s.embedded ? { embedded: s.embedded } : {}),
  };
}
