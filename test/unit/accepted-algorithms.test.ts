import type * as oidc from 'openid-client';
import { acceptedAlgorithms, FALLBACK_ALGORITHMS } from '../../src/directory/accepted-algorithms.js';

/** One allow-list per directory (issue #8 item 4): configured, else what the discovery document names, never HS* or none. */

const discovered = (algs?: string[]) => ({ issuer: 'https://kc.example/realms/corp', id_token_signing_alg_values_supported: algs }) as oidc.ServerMetadata;
/** What Keycloak 26 publishes: every algorithm it supports, symmetric ones included. */
const KEYCLOAK = ['PS384', 'RS384', 'EdDSA', 'ES384', 'HS256', 'HS512', 'ES256', 'RS256', 'HS384', 'ES512', 'PS256', 'PS512', 'RS512'];

describe('acceptedAlgorithms', () => {
  test('algorithms-differ-by-path: by default, the asymmetric algorithms the discovery document names', () => {
    expect(acceptedAlgorithms({}, discovered(KEYCLOAK))).toEqual(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']);
    expect(acceptedAlgorithms({}, discovered(['ES384']))).toEqual(['ES384']);
  });

  test('none and HS* never, also when they are all the directory names', () => {
    expect(acceptedAlgorithms({}, discovered(['none', 'HS256', 'RS256']))).toEqual(['RS256']);
    expect(acceptedAlgorithms({}, discovered(['none', 'HS256']))).toEqual(FALLBACK_ALGORITHMS);
    expect(acceptedAlgorithms({}, discovered(undefined))).toEqual(FALLBACK_ALGORITHMS);
  });

  test('the configured list wins over discovery; token_exchange.algorithms is its alias', () => {
    expect(acceptedAlgorithms({ algorithms: ['RS256'] }, discovered(KEYCLOAK))).toEqual(['RS256']);
    expect(acceptedAlgorithms({ token_exchange: { algorithms: ['PS256'] } } as Parameters<typeof acceptedAlgorithms>[0], discovered(KEYCLOAK))).toEqual(['PS256']);
  });
});
