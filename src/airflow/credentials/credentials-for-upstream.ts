import type { UpstreamConfig } from '../../config/schema.js';
import type { KeyStore } from '../../keys/key-store.js';
import type { AirflowClient } from '../airflow-client.js';
import { apiVersions, type ApiVersionName } from '../api-versions.js';
import { FabBasicAuthCredentials } from './fab-basic-auth.js';
import { ServiceAccountCredentials } from './service-account.js';
import { SubjectTemplate } from './subject-template.js';
import { TrustedJwksCredentials } from './trusted-jwks.js';
import type { UpstreamCredentials } from './upstream-credentials.js';

export interface CredentialsContext {
  client: AirflowClient;
  /** The Airflow key set that signs `trusted-jwks` tokens. */
  airflowKeys: KeyStore;
  /** The broker's issuer: the `iss` of minted tokens when the upstream sets no `jwt_issuer`. */
  brokerIssuer: string;
  now: () => number;
}

/**
 * The credential strategy for one upstream, chosen by its `credentials.mode` and its `api`:
 * - `service-account` on `v2` (Airflow 3): a login at `POST /auth/token`, the token reused until it nears expiry;
 * - `service-account` on `v1` (Airflow 2, which has no `/auth/token`): HTTP Basic to one FAB user on every call;
 * - `trusted-jwks` (both): a per-caller token signed with the Airflow key set. Airflow 3 trusts it through
 *   `[api_auth] trusted_jwks_url`, Airflow 2 through the companion auth backend (`[api] auth_backends`).
 */
export function credentialsForUpstream(api: ApiVersionName, c: NonNullable<UpstreamConfig['credentials']>, ctx: CredentialsContext): UpstreamCredentials {
  const { now } = ctx;
  if (c.mode === 'service-account') {
    return api === 'v1'
      ? new FabBasicAuthCredentials(ctx.client, { username: c.username, password: c.password, apiRoot: apiVersions.v1.root, refusalBackoffMs: c.login_backoff, now })
      : new ServiceAccountCredentials(ctx.client, { username: c.username, password: c.password, refreshBeforeMs: c.refresh_before, loginBackoffMs: c.login_backoff, now });
  }
  return new TrustedJwksCredentials(ctx.airflowKeys, {
    audience: c.jwt_audience,
    issuer: c.jwt_issuer ?? ctx.brokerIssuer,
    ttlMs: c.token_ttl,
    defaultRole: c.default_airflow_role,
    fab: c.identity.auth_manager === 'fab' ? c.identity.fab_roles : undefined,
    subject: SubjectTemplate.parse(c.identity.subject),
    now,
  });
}
