import type { TokenEndpointResponse } from 'openid-client';

/** Renew this long before `exp`: 30 s, or a fifth of the lifetime for tokens shorter than 2.5 minutes. */
const marginMs = 30_000;
const marginShare = 0.2;

/**
 * An access token that outlives no wait: `current()` answers the cached token, or a fresh one from `fetchToken`
 * once it is close to expiry; `renew()` fetches one now (after a 401 from the proxy).
 */
export class RenewingToken {
  private token: string | undefined;
  private renewAt = 0;

  constructor(
    private readonly fetchToken: () => Promise<TokenEndpointResponse>,
    private readonly now: () => number = Date.now,
  ) {}

  async current(): Promise<string> {
    return this.token !== undefined && this.now() < this.renewAt ? this.token : this.renew();
  }

  async renew(): Promise<string> {
    const response = await this.fetchToken();
    const lifetimeMs = (response.expires_in ?? 300) * 1000;
    this.token = response.access_token;
    this.renewAt = this.now() + lifetimeMs - Math.min(marginMs, lifetimeMs * marginShare);
    return this.token;
  }
}
