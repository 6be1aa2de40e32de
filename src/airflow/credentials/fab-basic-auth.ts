import { OAuthError } from '../../errors/oauth-error.js';
import type { UpstreamCredentials } from './upstream-credentials.js';

export interface FabBasicAuthOptions {
  /** The FAB user the proxy calls Airflow 2 as (no `:`: HTTP Basic cannot carry one in a user name). */
  username: string;
  password: string;
  /** How long a 401 is remembered: until then every call fails with the same 502 without asking Airflow. */
  refusalBackoffMs: number;
  now: () => number;
}

/**
 * `service-account` on Airflow 2 (`api: v1`): Airflow 2 has no `/auth/token`, so every call carries the FAB user's
 * name and password as HTTP Basic (RFC 7617), checked by the `airflow.api.auth.backend.basic_auth` backend.
 *
 * With nothing to renew, a 401 can only mean the password (or the user) is wrong: no retry, and no call goes to
 * Airflow for `refusalBackoffMs`, so a broken credential costs Airflow one refused round per interval, not one per
 * request.
 *
 * @example new FabBasicAuthCredentials({ username: 'proxy', password, refusalBackoffMs: 5_000, now: Date.now })
 */
export class FabBasicAuthCredentials implements UpstreamCredentials {
  readonly mode = 'service-account';
  private readonly header: string;
  private refusedUntil = -Infinity;

  constructor(private readonly options: FabBasicAuthOptions) {
    this.header = `Basic ${Buffer.from(`${options.username}:${options.password}`, 'utf8').toString('base64')}`;
  }

  async authorization(): Promise<string> {
    const wait = this.refusedUntil - this.options.now();
    if (wait > 0) {
      throw new OAuthError('upstream_error', 'Airflow refused the proxy\'s credentials (HTTP Basic); not asked again until the back-off has passed', {
        retryAfter: wait / 1000,
        cause: new Error(`Airflow answered 401 to FAB user ${JSON.stringify(this.options.username)} over HTTP Basic`),
      });
    }
    return this.header;
  }

  invalidate(): boolean {
    this.refusedUntil = this.options.now() + this.options.refusalBackoffMs;
    return false;
  }
}
