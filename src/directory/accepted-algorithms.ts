import type * as oidc from 'openid-client';
import { DIRECTORY_ALGORITHMS, type DirectoryAlgorithm, type DirectoryConfig } from '../config/schema.js';

/** What a directory that names none of our algorithms in its discovery document is trusted with (the old default). */
export const FALLBACK_ALGORITHMS: readonly DirectoryAlgorithm[] = ['RS256', 'PS256', 'ES256', 'EdDSA'];

/**
 * The one allow-list of signature algorithms for a directory's tokens, applied to client-credentials access tokens
 * and token-exchange subject tokens alike: the configured `algorithms` (or its deprecated alias
 * `token_exchange.algorithms`), else what the discovery document says the directory signs with. OpenID Discovery
 * names no algorithms for access tokens, so `id_token_signing_alg_values_supported` stands for both (Keycloak, Entra
 * and Okta sign both with the same keys). Only asymmetric algorithms survive: never `none`, never HS*.
 */
export function acceptedAlgorithms(config: Pick<DirectoryConfig, 'algorithms' | 'token_exchange'>, metadata: oidc.ServerMetadata): DirectoryAlgorithm[] {
  const configured = config.algorithms ?? config.token_exchange?.algorithms;
  if (configured) return [...configured];
  const published = metadata.id_token_signing_alg_values_supported ?? [];
  const supported = DIRECTORY_ALGORITHMS.filter((alg) => published.includes(alg));
  return supported.length > 0 ? supported : [...FALLBACK_ALGORITHMS];
}
