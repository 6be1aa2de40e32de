import { Router } from 'express';
import type { Services } from '../../services.js';
import { deploymentMetadata } from '../deployment-metadata.js';
import { clientAuthMethods } from './client-auth-steps.js';
import { introspectionEndpoint } from './introspection-endpoint.js';
import { methodNotAllowed } from './form.js';
import { revocationEndpoint } from './revocation-endpoint.js';
import { tokenEndpoint } from './token-endpoint.js';
import { tokenEndpointCors } from './token-endpoint-cors.js';
import { AUTHORIZE_PATH, authorizeEndpoint, authorizeMethodNotAllowed } from './authorize-endpoint.js';

export const ENDPOINT_PATHS = {
  token: '/oauth2/token',
  introspection: '/oauth2/introspect',
  revocation: '/oauth2/revoke',
  jwks: '/oauth2/jwks',
} as const;

/** RFC 8414 metadata. URLs come from the configured issuer only, never from `Host` or `X-Forwarded-*`. */
export function authorizationServerMetadata(s: Services): Record<string, unknown> {
  const base = s.config.issuer.replace(/\/$/, '');
  const authMethods = clientAuthMethods(s);
  return {
    issuer: s.config.issuer,
    token_endpoint: base + ENDPOINT_PATHS.token,
    jwks_uri: base + ENDPOINT_PATHS.jwks,
    introspection_endpoint: base + ENDPOINT_PATHS.introspection,
    revocation_endpoint: base + ENDPOINT_PATHS.revocation,
    grant_types_supported: s.grants.grantTypes,
    response_types_supported: [],
    token_endpoint_auth_methods_supported: authMethods,
    introspection_endpoint_auth_methods_supported: authMethods,
    revocation_endpoint_auth_methods_supported: authMethods,
    scopes_supported: [...s.policies.current().roles.keys()],
    authorization_details_types_supported: ['airflow'],
    ...deploymentMetadata(s.config),
    ...(s.cliLogin && cliLoginMetadata(base, s.cliLogin.clientId, authMethods)),
  };
}

/** The CLI login's part of the metadata: the authorization endpoint (RFC 8414, RFC 7636, RFC 9207) and its client. */
function cliLoginMetadata(base: string, clientId: string, authMethods: readonly string[]): Record<string, unknown> {
  return {
    authorization_endpoint: base + AUTHORIZE_PATH,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    code_challenge_methods_supported: ['S256'],
    authorization_response_iss_parameter_supported: true,
    // The CLI is a public client: it authenticates nowhere, at the token and revocation endpoints alike.
    token_endpoint_auth_methods_supported: [...authMethods, 'none'],
    revocation_endpoint_auth_methods_supported: [...authMethods, 'none'],
    /** Extension: the public client `airflow-token-broker login` is (`login.cli.client_id`). */
    airflow_cli_client_id: clientId,
  };
}

export function brokerRouter(s: Services): Router {
  const router = Router();
  const metadata = (_req: unknown, res: import('express').Response) => {
    res.set('Cache-Control', 'public, max-age=300').json(authorizationServerMetadata(s));
  };
  router.get('/.well-known/oauth-authorization-server', metadata);
  router.get('/.well-known/openid-configuration', metadata);
  router.get(ENDPOINT_PATHS.jwks, (_req, res) => {
    // Short cache: a rotated key must reach verifiers well within its pre-publication time.
    res.set('Cache-Control', 'public, max-age=60').type('application/jwk-set+json').send(JSON.stringify(s.keys.publicJwks()));
  });
  if (s.config.token_endpoint_cors) router.use(ENDPOINT_PATHS.token, tokenEndpointCors(s.config.token_endpoint_cors));
  router.post(ENDPOINT_PATHS.token, ...tokenEndpoint(s));
  router.post(ENDPOINT_PATHS.introspection, ...introspectionEndpoint(s));
  router.post(ENDPOINT_PATHS.revocation, ...revocationEndpoint(s));
  if (s.cliLogin) {
    router.get(AUTHORIZE_PATH, ...authorizeEndpoint({ config: s.config, ...s.cliLogin, perPerson: s.limits.perClient }));
    router.all(AUTHORIZE_PATH, authorizeMethodNotAllowed);
  }
  for (const path of [ENDPOINT_PATHS.token, ENDPOINT_PATHS.introspection, ENDPOINT_PATHS.revocation]) router.all(path, methodNotAllowed);
  return router;
}
