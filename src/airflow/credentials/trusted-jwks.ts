import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { LRUCache } from 'lru-cache';
import { OAuthError } from '../../errors/oauth-error.js';
import type { KeyStore } from '../../keys/key-store.js';
import { airflowRoles, type AirflowRole } from '../../policy/vocabulary.js';
import { fabClaims, type FabRoleMap } from './fab-identity.js';
import type { SubjectTemplate } from './subject-template.js';
import type { Caller, UpstreamCredentials } from './upstream-credentials.js';

export interface TrustedJwksOptions {
  audience: string;
  issuer: string | undefined;
  ttlMs: number;
  defaultRole: AirflowRole | undefined;
  /** Set for an Airflow on the FAB companion auth manager (`identity.auth_manager: fab`): its FAB roles. */
  fab: FabRoleMap | undefined;
  /** `identity.subject`: the minted token's `sub`. */
  subject: SubjectTemplate;
  now: () => number;
}

/** Airflow's Task Execution API audience: a token for it would let a caller act as a worker. */
const EXECUTION_API_AUDIENCE = 'urn:airflow.apache.org:task';

/**
 * `trusted-jwks`: a short-lived Airflow-format JWT per caller (`sub` = the caller as `identity.subject` names it
 * from its claims, `role` = the Airflow role of its policy roles), signed with the Airflow key set that Airflow
 * trusts through `trusted_jwks_url`. Airflow's own audit log then names the real caller. Minted tokens are reused
 * until shortly before they expire.
 */
export class TrustedJwksCredentials implements UpstreamCredentials {
  readonly mode = 'trusted-jwks';
  private readonly minted = new LRUCache<string, { header: string; expiresAt: number }>({ max: 10_000 });

  constructor(
    private readonly keys: KeyStore,
    private readonly options: TrustedJwksOptions,
  ) {
    if (options.audience === EXECUTION_API_AUDIENCE) throw new Error('refusing to mint the Execution API audience');
  }

  async authorization(caller: Caller): Promise<string> {
    const role = this.airflowRole(caller);
    const subject = this.options.subject.render(caller.claims);
    const key = this.keys.requireSigningKey();
    // Everything the token says about the caller is in the key: a reused token never names another client.
    const cacheKey = `${key.kid}\u0000${subject}\u0000${role}\u0000${caller.clientId}`;
    const now = this.options.now();
    const cached = this.minted.get(cacheKey);
    if (cached && cached.expiresAt - 60_000 > now) return cached.header;
    const iat = Math.floor(now / 1000);
    const exp = iat + Math.floor(this.options.ttlMs / 1000);
    let jwt = new SignJWT({ role, client_id: caller.clientId, ...this.authManagerClaims(subject, role) })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
      .setSubject(subject)
      .setAudience(this.options.audience)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(exp)
      .setJti(randomUUID());
    if (this.options.issuer) jwt = jwt.setIssuer(this.options.issuer);
    const header = `Bearer ${await jwt.sign(key.privateKey)}`;
    this.minted.set(cacheKey, { header, expiresAt: exp * 1000 });
    return header;
  }

  invalidate(): boolean {
    this.minted.clear();
    return false;
  }

  /** What the deployment's auth manager needs beyond SimpleAuthManager's `sub` and `role`. */
  private authManagerClaims(subject: string, role: AirflowRole): Record<string, unknown> {
    return this.options.fab ? fabClaims(subject, role, this.options.fab) : {};
  }

  /** The strongest `airflow_role` among the caller's policy roles; Airflow still enforces it coarsely. */
  private airflowRole(caller: Caller): AirflowRole {
    let best = -1;
    for (const name of caller.roles) {
      const r = caller.policy.roles.get(name)?.airflowRole;
      if (r) best = Math.max(best, airflowRoles.indexOf(r));
    }
    if (best >= 0) return airflowRoles[best]!;
    if (this.options.defaultRole) return this.options.defaultRole;
    throw new OAuthError('insufficient_scope', 'no Airflow role is configured for the token\'s roles');
  }
}
