import type { Config } from '../config/schema.js';
import { OAuthError } from '../errors/oauth-error.js';

export interface Target {
  /** The deployment's name, or `admin` for the broker's own admin API. */
  upstream: string;
  audience: string;
}

/** The audience of tokens for the broker's admin API: never valid at a deployment, and vice versa. */
export function adminAudience(config: Config): string {
  return `${config.issuer.replace(/\/$/, '')}/admin`;
}

/** The deployment of a token request that names none: `default_upstream`, or the only one. */
export function defaultUpstream(config: Config): string | undefined {
  const names = Object.keys(config.upstreams);
  return config.default_upstream ?? (names.length === 1 ? names[0] : undefined);
}

/**
 * Picks the Airflow deployment a token is for, from RFC 8707 `resource` or RFC 8693 `audience` (the
 * deployment's audience, exactly), or the default deployment when neither is given.
 */
export function resolveTarget(config: Config, resource: string | undefined, audience: string | undefined): Target {
  if (resource !== undefined && audience !== undefined && resource !== audience) {
    throw new OAuthError('invalid_target', 'resource and audience name different deployments');
  }
  const wanted = resource ?? audience;
  const entries = Object.entries(config.upstreams);
  if (wanted === undefined) {
    const name = defaultUpstream(config);
    if (!name) throw new OAuthError('invalid_target', 'name the deployment with resource or audience');
    return { upstream: name, audience: config.upstreams[name]!.audience };
  }
  if (wanted === adminAudience(config)) return { upstream: 'admin', audience: wanted };
  const match = entries.find(([, u]) => u.audience === wanted);
  if (!match) throw new OAuthError('invalid_target', 'unknown resource or audience');
  return { upstream: match[0], audience: match[1].audience };
}
