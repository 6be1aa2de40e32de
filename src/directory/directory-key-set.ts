import { createRemoteJWKSet, customFetch, errors, type FetchImplementation, type JWTVerifyGetKey } from 'jose';
import { directoryUnavailable, OAuthError } from '../errors/oauth-error.js';

/** A token signed by a key the broker has not fetched yet refetches the key set at most this often per directory. */
export const UNKNOWN_KEY_REFETCH_INTERVAL_MS = 5_000;

export interface DirectoryKeySetOptions {
  /** Timeout of each key set request. */
  timeoutMs: number;
  /** Defaults to {@link UNKNOWN_KEY_REFETCH_INTERVAL_MS}. */
  refetchIntervalMs?: number;
}

/**
 * The directory's signing keys for `jwtVerify`, from its `jwks_uri`, cached by jose. A token whose key is not in
 * the cached set (the directory rotated or created a key) refetches the set at once, so a rotation is not refused
 * for jose's 30 s cooldown; concurrent such tokens share one refetch, and there is at most one per interval so
 * tokens with made-up `kid`s cannot make the broker hammer the directory. The verdict on an unknown key:
 * - the key set was fetched after the token arrived and still lacks its key: the token's fault (`JWKSNoMatchingKey`);
 * - no refetch is allowed yet: 503 `temporarily_unavailable` with `Retry-After` (the key may be brand new);
 * - the key set cannot be fetched or read: 503, the directory's fault.
 */
export function directoryKeySet(jwksUri: URL, options: DirectoryKeySetOptions): JWTVerifyGetKey {
  const interval = options.refetchIntervalMs ?? UNKNOWN_KEY_REFETCH_INTERVAL_MS;
  // Key set requests are numbered, whoever starts them (jose on first use or on a stale cache, or a refetch),
  // so a lookup can tell whether the directory answered after the token arrived.
  let fetchesStarted = 0;
  let newestAnswered = 0;
  const numbered: FetchImplementation = async (url, init) => {
    const n = ++fetchesStarted;
    const response = await fetch(url, init);
    if (response.status === 200) newestAnswered = Math.max(newestAnswered, n);
    return response;
  };
  const remote = createRemoteJWKSet(jwksUri, {
    timeoutDuration: options.timeoutMs,
    // jose's own refetch of an unknown key is off (an endless cooldown): the policy below decides when.
    cooldownDuration: Number.POSITIVE_INFINITY,
    cacheMaxAge: 600_000,
    [customFetch]: numbered,
  });
  let lastRefetchAt = Number.NEGATIVE_INFINITY;

  /**
   * The key, or `undefined` when the cached set has none for the token. jose reports a JWKS endpoint's 500 or
   * malformed JSON as a generic `JOSEError`, like many token faults, so the cause is sorted out here: only "no
   * key (or several) matches the token" is about the token; everything else failed fetching or reading the set.
   */
  const lookUp = async (...args: Parameters<JWTVerifyGetKey>) => {
    try {
      return await remote(...args);
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey) return undefined;
      if (err instanceof errors.JWKSMultipleMatchingKeys) throw err;
      throw new KeySetUnreadable(err);
    }
  };
  const noKey = () => new errors.JWKSNoMatchingKey();

  return async (...args) => {
    const arrived = fetchesStarted;
    const cached = await lookUp(...args);
    if (cached) return cached;
    // A fetch in flight may bring the key: share it (reload() joins a pending fetch, it starts none).
    if (remote.reloading) {
      await remote.reload().catch(() => undefined);
      const fetched = await lookUp(...args);
      if (fetched) return fetched;
    }
    // The directory answered since the token arrived and does not publish its key: the token's fault.
    if (newestAnswered > arrived) throw noKey();
    const wait = lastRefetchAt + interval - Date.now();
    if (wait > 0) throw new KeyNotYetFetched(Math.ceil(wait / 1000));
    const previousRefetchAt = lastRefetchAt;
    lastRefetchAt = Date.now();
    await remote.reload().catch((err: unknown) => {
      // A refetch that failed learnt nothing: the next unknown key may try again (once the directory is back).
      lastRefetchAt = previousRefetchAt;
      throw new KeySetUnreadable(err);
    });
    const key = await lookUp(...args);
    if (!key) throw noKey();
    return key;
  };
}

/**
 * The OAuth answer for a key set failure (`undefined`: the error is not one): the directory's key set could not
 * be read, or the token's key may be new and the key set cannot be refetched yet. Neither is the caller's fault.
 */
export function keySetUnavailable(err: unknown): OAuthError | undefined {
  if (err instanceof KeyNotYetFetched) {
    return new OAuthError('temporarily_unavailable', "the token is signed by a key the broker has not fetched from the central directory yet, retry later", {
      retryAfter: err.retryAfter,
      cause: err,
    });
  }
  return err instanceof KeySetUnreadable ? directoryUnavailable(err) : undefined;
}

/** For reports that sort causes: the failure was the key set's (unreadable, or the token's key not fetched yet). */
export function isKeySetFailure(err: unknown): boolean {
  return err instanceof KeySetUnreadable || err instanceof KeyNotYetFetched;
}

/** The directory's key set could not be fetched or read (down, 5xx, redirect, not JSON, not a key set, timeout). */
class KeySetUnreadable extends Error {
  constructor(cause: unknown) {
    super('the directory key set could not be read', { cause });
  }
}

/** The token names a key not in the cached set, and the set was refetched too recently to refetch it again. */
class KeyNotYetFetched extends Error {
  constructor(readonly retryAfter: number) {
    super(`no key of the directory key set matches the token; the key set may be refetched in ${retryAfter} s`);
  }
}
