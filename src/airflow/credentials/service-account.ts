import { decodeJwt } from 'jose';
import { OAuthError } from '../../errors/oauth-error.js';
import type { AirflowClient } from '../airflow-client.js';
import type { UpstreamCredentials } from './upstream-credentials.js';

export interface ServiceAccountOptions {
  username: string;
  password: string;
  refreshBeforeMs: number;
  now: () => number;
}

/**
 * `service-account`: the proxy logs in as one Airflow user (`POST /auth/token`), keeps the token until shortly
 * before it expires, and logs in again once when Airflow answers 401. One login at a time.
 */
export class ServiceAccountCredentials implements UpstreamCredentials {
  readonly mode = 'service-account';
  private token: { header: string; expiresAt: number } | undefined;
  private pending: Promise<string> | undefined;

  constructor(
    private readonly client: AirflowClient,
    private readonly options: ServiceAccountOptions,
  ) {}

  async authorization(): Promise<string> {
    if (this.token && this.token.expiresAt - this.options.refreshBeforeMs > this.options.now()) return this.token.header;
    this.pending ??= this.login().finally(() => (this.pending = undefined));
    return this.pending;
  }

  invalidate(): boolean {
    this.token = undefined;
    return true;
  }

  private async login(): Promise<string> {
    const res = await this.client.json('POST', '/auth/token', undefined, { username: this.options.username, password: this.options.password });
    const accessToken = (res.body as { access_token?: unknown } | undefined)?.access_token;
    if (res.status !== 201 && res.status !== 200) throw new OAuthError('upstream_error', 'the proxy could not log in to Airflow', { cause: new Error(`login answered ${res.status}`) });
    if (typeof accessToken !== 'string') throw new OAuthError('upstream_error', 'Airflow answered the login without a token');
    // Reading our own upstream token's exp only schedules the next login; Airflow verifies it.
    const exp = decodeJwt(accessToken).exp;
    const header = `Bearer ${accessToken}`;
    this.token = { header, expiresAt: typeof exp === 'number' ? exp * 1000 : this.options.now() + 5 * 60_000 };
    return header;
  }
}
