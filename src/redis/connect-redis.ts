import { createClient, type RedisClientType } from 'redis';
import type { Logger } from '../observability/logger.js';

export interface RedisConnectOptions {
  url: string;
  /** Bounds each connection attempt, and the whole first connect: `connectRedis` rejects when it is spent. */
  connectTimeoutMs: number;
  /** What the connection serves, in the start-up error (`revocation store`, `session store`). */
  what: string;
  /** Where each reconnect attempt is logged (never the URL's credentials). */
  logger?: Logger | undefined;
}

/** Backoff between reconnect attempts: 100 ms doubling up to 2 s. */
const retryDelayMs = (retries: number) => Math.min(100 * 2 ** retries, 2_000);

/**
 * Connects to Redis, retrying with backoff for at most `connectTimeoutMs`; then rejects with an error naming
 * what it serves and the address (start-up fails instead of hanging). Once connected, a lost connection is
 * retried for ever, and commands fail at once meanwhile (no offline queue): each store turns that into its 503.
 */
export async function connectRedis(options: RedisConnectOptions): Promise<RedisClientType> {
  const where = redisAddress(options.url);
  const log = options.logger;
  const started = Date.now();
  let connected = false;
  let lost = false;
  const client: RedisClientType = createClient({
    url: options.url,
    // Fail fast while disconnected instead of queueing requests behind an outage.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: options.connectTimeoutMs,
      reconnectStrategy: (retries, cause: Error) => {
        const delay = retryDelayMs(retries);
        if (!connected && Date.now() - started + delay > options.connectTimeoutMs) return cause;
        lost = connected;
        const context = { redis: where, attempt: retries + 1, delay_ms: delay, error: cause.message };
        log?.warn(context, connected ? 'Redis connection lost; reconnecting' : 'Redis not reachable yet; retrying');
        return delay;
      },
    },
  });
  client.on('error', () => {}); // reported through failing commands and the reconnect log
  client.on('ready', () => {
    if (lost) log?.info({ redis: where }, 'Redis connection restored');
    lost = false;
  });
  try {
    await client.connect();
  } catch (err) {
    client.destroy();
    const seconds = options.connectTimeoutMs / 1000;
    throw new Error(`${options.what}: cannot reach Redis at ${where} within ${seconds}s: ${reasonOf(err)}`, { cause: err });
  }
  connected = true;
  return client;
}

/** Scheme, host and port only: a Redis URL may carry a password. */
export function redisAddress(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return '(unparseable URL)';
  }
}

function reasonOf(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}
