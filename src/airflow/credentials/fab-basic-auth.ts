import { OAuthError } from '../../errors/oauth-error.js';
import type { AirflowClient } from '../airflow-client.js';
import type { UpstreamCredentials } from './upstream-credentials.js';

export interface FabBasicAuthOptions {
  /** The FAB user the proxy calls Airflow 2 as (no `:`: HTTP Basic cannot carry one in a user name). */
  username: string;
  password: string;
  /** `/api/v1`: where the probe reads. */
  apiRoot: string;
  /** How long a 401 (or a 403 the probe pins on the proxy) is remembered: until then every call fails with the same 502 without asking Airflow. */
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
 * Airflow 2 mostly answers a wrong password with **403**, not 401: when every backend declines, it carries on as the
 * anonymous user of FAB's `AUTH_ROLE_PUBLIC` (`Public` unless `webserver_config.py` sets it to `None`), which may do
 * nothing. So a 403 is checked with a probe (`GET <apiRoot>/dags?limit=1`, which any proxy user can read): refused
 * too, the credentials are to blame; answered, the 403 was a permission and is relayed. One probe per back-off.
 *
 * @example new FabBasicAuthCredentials(client, { username: 'proxy', password, apiRoot: '/api/v1', refusalBackoffMs: 5_000, now: Date.now })
 */
export class FabBasicAuthCredentials implements UpstreamCredentials {
  readonly mode = 'service-account';
  private readonly header: string;
  private refusedUntil = -Infinity;
  private probedOkUntil = -Infinity;

  constructor(
    private readonly client: AirflowClient,
    private readonly options: FabBasicAuthOptions,
  ) {
    this.header = `Basic ${Buffer.from(`${options.username}:${options.password}`, 'utf8').toString('base64')}`;
  }

  async authorization(): Promise<string> {
    const wait = this.refusedUntil - this.options.now();
    if (wait > 0) {
      throw new OAuthError('upstream_error', 'Airflow refused the proxy\'s credentials (HTTP Basic); not asked again until the back-off has passed', {
        retryAfter: wait / 1000,
        cause: new Error(`Airflow refused FAB user ${JSON.stringify(this.options.username)} over HTTP Basic (a 401, or a 403 to the probe too)`),
      });
    }
    return this.header;
  }

  invalidate(): boolean {
    this.refusedUntil = this.options.now() + this.options.refusalBackoffMs;
    return false;
  }

  async forbidden(rejected: string): Promise<boolean> {
    if (this.options.now() < this.probedOkUntil) return false;
    let status: number;
    try {
      status = (await this.client.json('GET', `${this.options.apiRoot}/dags?limit=1`, rejected)).status;
    } catch {
      return false; // Airflow failing now says nothing about the password: the 403 stands
    }
    if (status === 401 || status === 403) {
      this.invalidate();
      return true;
    }
    if (status === 200) this.probedOkUntil = this.options.now() + this.options.refusalBackoffMs;
    return false;
  }
}
