import type { RedisClientType } from 'redis';
import { connectRedis } from '../redis/connect-redis.js';
import type { Logger } from '../observability/logger.js';
import { storeOperation, type IssuanceBlock, type PrincipalKind, type RevocableToken, type RevocationStore } from './revocation-store.js';

/** Keeps the larger cut-off and the later expiry: a revocation can only widen. */
const RAISE = `
local cur = redis.call('GET', KEYS[1])
if (not cur) or tonumber(cur) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2], 'GT')
end
return 1`;

export interface RedisRevocationOptions {
  url: string;
  keyPrefix: string;
  /** Bounds each connection attempt, and the whole first connect: `connect` rejects when it is spent. */
  connectTimeoutMs: number;
  /** Where each reconnect attempt is logged (never the URL's credentials). */
  logger?: Logger;
  now?: () => number;
}

/**
 * Revocations in Redis, shared by every instance behind a load balancer. Entries expire with the tokens they
 * hit (Redis TTLs). Fails closed: while Redis cannot answer, token checks answer 503, never "not revoked".
 */
export class RedisRevocationStore implements RevocationStore {
  private constructor(
    private readonly client: RedisClientType,
    private readonly prefix: string,
    private readonly now: () => number,
  ) {}

  /**
   * Connects, retrying with backoff for at most `connectTimeoutMs`; then rejects with an error naming the
   * address (start-up fails instead of hanging). Once connected, a lost connection is retried for ever.
   */
  static async connect(options: RedisRevocationOptions): Promise<RedisRevocationStore> {
    const client = await connectRedis({ url: options.url, connectTimeoutMs: options.connectTimeoutMs, what: 'revocation store', logger: options.logger });
    return new RedisRevocationStore(client, options.keyPrefix, options.now ?? Date.now);
  }

  async revoke(jti: string, expiresAtMs: number): Promise<void> {
    await storeOperation(() => this.client.set(`${this.prefix}jti:${jti}`, '1', { PX: this.ttl(expiresAtMs) }));
  }

  async revokeAllOf(kind: PrincipalKind, value: string, issuedBeforeSec: number, keepUntilMs: number): Promise<void> {
    const key = `${this.prefix}${kind}:${value}`;
    await storeOperation(() => this.client.eval(RAISE, { keys: [key], arguments: [String(Math.floor(issuedBeforeSec)), String(this.ttl(keepUntilMs))] }));
  }

  async isRevoked(t: RevocableToken): Promise<boolean> {
    const [jti, sub, client] = await storeOperation(() =>
      this.client.mGet([`${this.prefix}jti:${t.jti}`, `${this.prefix}sub:${t.sub}`, `${this.prefix}client_id:${t.client_id}`]),
    );
    return jti !== null || (sub !== null && t.iat <= Number(sub)) || (client !== null && t.iat <= Number(client));
  }

  async block(b: IssuanceBlock): Promise<void> {
    await storeOperation(() => this.client.hSetNX(this.blocksKey, `${b.kind}:${b.value}`, JSON.stringify({ sinceMs: b.sinceMs, by: b.by })));
  }

  async lift(kind: PrincipalKind, value: string): Promise<boolean> {
    return (await storeOperation(() => this.client.hDel(this.blocksKey, `${kind}:${value}`))) > 0;
  }

  async blockOn(principal: Pick<RevocableToken, 'sub' | 'client_id'>): Promise<IssuanceBlock | undefined> {
    const fields = [`sub:${principal.sub}`, `client_id:${principal.client_id}`];
    const values = await storeOperation(() => this.client.hmGet(this.blocksKey, fields));
    const i = values.findIndex((v) => v !== null);
    return i < 0 ? undefined : toBlock(fields[i]!, values[i]!);
  }

  async blocks(): Promise<IssuanceBlock[]> {
    const all = await storeOperation(() => this.client.hGetAll(this.blocksKey));
    return Object.entries(all)
      .map(([field, value]) => toBlock(field, value))
      .sort((a, b) => a.sinceMs - b.sinceMs);
  }

  /** One hash holds every block (field `kind:value`), without a TTL: a block lasts until it is lifted. */
  private get blocksKey(): string {
    return `${this.prefix}blocks`;
  }

  close(): void {
    void this.client.close().catch(() => {});
  }

  private ttl(untilMs: number): number {
    return Math.max(1, Math.ceil(untilMs - this.now()));
  }
}

function toBlock(field: string, value: string): IssuanceBlock {
  const colon = field.indexOf(':');
  const { sinceMs, by } = JSON.parse(value) as { sinceMs: number; by: string };
  return { kind: field.slice(0, colon) as PrincipalKind, value: field.slice(colon + 1), sinceMs, by };
}
