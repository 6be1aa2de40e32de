import type { TokenEndpointResponse } from 'openid-client';

/** Renew when less than this share of the token's lifetime is left (and at least `minimumMarginMs` before `exp`). */
const renewAtShareLeft = 0.2;
const minimumMarginMs = 30_000;

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
    this.renewAt = this.now() + Math.max(0, Math.min(lifetimeMs * (1 - renewAtShareLeft), lifetimeMs - minimumMarginMs));
    return this.token;
  }
}
