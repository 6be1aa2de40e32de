import { createHash, randomBytes } from 'node:crypto';
import type { DirectoryIdentity } from '../../directory/directory.js';
import { storeOperation, type ExpiringStore } from '../../sessions/expiring-store.js';

/** What a code stands for: the person, and the request it was issued on (RFC 6749 §4.1.3 checks). */
export interface AuthorizedCode {
  clientId: string;
  redirectUri: string;
  /** The S256 `code_challenge` (RFC 7636). */
  codeChallenge: string;
  /** The deployment the token is for (its name), from the request's `resource`. */
  upstream: string;
  /** Roles the request named (`scope`), if it named any: the token request may narrow them, never widen. */
  scope?: string;
  identity: DirectoryIdentity;
}

/** A token issued from a code, as far as revoking it needs. */
export interface IssuedFromCode {
  jti: string;
  /** Epoch seconds. */
  exp: number;
}

export type Redemption =
  | { outcome: 'redeemed'; code: AuthorizedCode }
  /** The code was redeemed before: these are the tokens issued from it (RFC 6749 §10.5: revoke them). */
  | { outcome: 'replayed'; issued: IssuedFromCode[] }
  | { outcome: 'unknown' };

interface RedeemedMarker {
  replayed: boolean;
  issued: IssuedFromCode[];
}

export const CODE_TTL_MS = 60_000;
const CODE = /^[A-Za-z0-9_-]{43}$/;

/**
 * One-time authorization codes in the shared {@link ExpiringStore}: 32 random bytes handed to the client, stored
 * only as their SHA-256 (`code:<hash>`, 60 s). A redeemed code leaves a marker (`code-redeemed:<hash>`) for as long
 * as a token issued from it can live, naming those tokens: a second redemption finds the marker and gets them
 * revoked.
 */
export class AuthorizationCodes {
  constructor(
    private readonly store: ExpiringStore,
    /** How long a redeemed marker is kept: the longest a token can live (`tokens.max_ttl`). */
    private readonly markerTtlMs: number,
  ) {}

  async issue(code: AuthorizedCode): Promise<string> {
    const value = randomBytes(32).toString('base64url');
    await storeOperation('authorization code', () => this.store.set(`code:${digest(value)}`, JSON.stringify(code), CODE_TTL_MS));
    return value;
  }

  /** Takes the code (at most one caller ever gets it); a code seen before is `replayed`. */
  async redeem(value: string): Promise<Redemption> {
    if (!CODE.test(value)) return { outcome: 'unknown' };
    const hash = digest(value);
    return storeOperation('authorization code', async () => {
      const taken = await this.store.take(`code:${hash}`);
      if (taken !== undefined) {
        await this.store.set(`code-redeemed:${hash}`, JSON.stringify({ replayed: false, issued: [] } satisfies RedeemedMarker), this.markerTtlMs);
        return { outcome: 'redeemed', code: JSON.parse(taken) as AuthorizedCode };
      }
      const marker = await this.store.get(`code-redeemed:${hash}`);
      if (marker === undefined) return { outcome: 'unknown' };
      const { issued } = JSON.parse(marker) as RedeemedMarker;
      await this.store.set(`code-redeemed:${hash}`, JSON.stringify({ replayed: true, issued } satisfies RedeemedMarker), this.markerTtlMs);
      return { outcome: 'replayed', issued };
    });
  }

  /**
   * Records a token issued from a redeemed code. Answers false when the code was replayed meanwhile (the replay
   * could not name this token yet): the caller revokes it.
   */
  async recordIssued(value: string, token: IssuedFromCode): Promise<boolean> {
    const key = `code-redeemed:${digest(value)}`;
    return storeOperation('authorization code', async () => {
      const marker = await this.store.get(key);
      const current: RedeemedMarker = marker === undefined ? { replayed: false, issued: [] } : (JSON.parse(marker) as RedeemedMarker);
      if (current.replayed) return false;
      await this.store.set(key, JSON.stringify({ replayed: false, issued: [...current.issued, token] } satisfies RedeemedMarker), this.markerTtlMs);
      return true;
    });
  }
}

function digest(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}
