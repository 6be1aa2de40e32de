import { decodeJwt } from 'jose';
import { OAuthError } from '../../errors/oauth-error.js';
import type { AirflowClient } from '../airflow-client.js';
import type { UpstreamCredentials } from './upstream-credentials.js';

export interface ServiceAccountOptions {
  username: string;
  password: string;
  refreshBeforeMs: number;
  /** How long a failed login is remembered: no new login before it has passed. */
  loginBackoffMs: number;
  now: () => number;
}

/**
 * `service-account`: the proxy logs in as one Airflow user (`POST /auth/token`), keeps the token until shortly
 * before it expires, and logs in again once when Airflow answers 401 to it. One login at a time: concurrent
 * calls share it. A failed login (or a token refused right after it) is remembered for `loginBackoffMs`; until
 * then every call fails with the same 502 (and `Retry-After`) without asking Airflow.
 */
export class ServiceAccountCredentials implements UpstreamCredentials {
  readonly mode = 'service-account';
  private token: { header: string; expiresAt: number; obtainedAt: number } | undefined;
  private pending: Promise<string> | undefined;
  private failure: { until: number; cause: unknown } | undefined;

  constructor(
    private readonly client: AirflowClient,
    private readonly options: ServiceAccountOptions,
  ) {}

  async authorization(): Promise<string> {
    const now = this.options.now();
    if (this.token && this.token.expiresAt - this.options.refreshBeforeMs > now) return this.token.header;
    if (this.failure && this.failure.until > now) throw loginFailed(this.failure.cause, this.failure.until - now);
    this.pending ??= this.login()
      .catch((err: unknown) => {
        this.failure = { until: this.options.now() + this.options.loginBackoffMs, cause: err };
        throw loginFailed(err, this.options.loginBackoffMs);
      })
      .finally(() => (this.pending = undefined));
    return this.pending;
  }

  /**
   * Forgets the token Airflow refused; a call that holds an older one just retries with the current one. A token
   * refused within `loginBackoffMs` of its login counts as a failed login (Airflow issues tokens it does not
   * accept): no retry, and no new login until the back-off has passed.
   */
  invalidate(rejected?: string): boolean {
    if (rejected !== undefined && this.token?.header !== rejected) return true;
    const now = this.options.now();
    const fresh = this.token !== undefined && now - this.token.obtainedAt < this.options.loginBackoffMs;
    this.token = undefined;
    if (!fresh) return true;
    this.failure = { until: now + this.options.loginBackoffMs, cause: new Error('Airflow refused a token it had just issued') };
    return false;
  }

  private async login(): Promise<string> {
    const res = await this.client.json('POST', '/auth/token', undefined, { username: this.options.username, password: this.options.password });
    const accessToken = (res.body as { access_token?: unknown } | undefined)?.access_token;
    if (res.status !== 201 && res.status !== 200) throw new Error(`login answered ${res.status}`);
    if (typeof accessToken !== 'string') throw new Error('login answered without a token');
    // Reading our own upstream token's exp only schedules the next login; Airflow verifies it.
    const exp = decodeJwt(accessToken).exp;
    const header = `Bearer ${accessToken}`;
    const now = this.options.now();
    this.token = { header, expiresAt: typeof exp === 'number' ? exp * 1000 : now + 5 * 60_000, obtainedAt: now };
    this.failure = undefined;
    return header;
  }
}

function loginFailed(cause: unknown, retryAfterMs: number): OAuthError {
  const timedOut = cause instanceof OAuthError && cause.code === 'upstream_timeout';
  return new OAuthError(timedOut ? 'upstream_timeout' : 'upstream_error', 'the proxy could not log in to Airflow', { retryAfter: retryAfterMs / 1000, cause });
}
