import type { Config } from '../../config/schema.js';
import { invalidRequest, OAuthError } from '../../errors/oauth-error.js';
import { resolveTarget } from '../target.js';
import { loopbackRedirectProblem } from './loopback-redirect.js';
import { isS256Challenge } from './pkce.js';

/** Where answers to an authorization request may go: known once client_id and redirect_uri are checked. */
export interface TrustedRedirect {
  clientId: string;
  redirectUri: string;
  state: string | undefined;
}

/** An authorization request the broker issues a code on. */
export interface AuthorizationRequest extends TrustedRedirect {
  codeChallenge: string;
  upstream: string;
  scope: string | undefined;
}

/**
 * RFC 6749 §4.1.2.1 first: a request whose client or redirect URI is not the registered one is answered to the
 * person (thrown before anything is trusted), never redirected. `query` is the raw query string.
 */
export function trustedRedirect(query: URLSearchParams, registeredClientId: string): TrustedRedirect {
  for (const name of ['client_id', 'redirect_uri']) if (query.getAll(name).length > 1) throw invalidRequest(`parameter ${name} is repeated`);
  const clientId = query.get('client_id');
  const redirectUri = query.get('redirect_uri');
  if (!clientId) throw invalidRequest('client_id is required');
  if (clientId !== registeredClientId) throw invalidRequest(`${clientId} is not a client registered at this broker`);
  if (!redirectUri) throw invalidRequest('redirect_uri is required');
  const problem = loopbackRedirectProblem(redirectUri);
  if (problem) throw invalidRequest(problem);
  const states = query.getAll('state');
  return { clientId, redirectUri, state: states.length === 1 && states[0] !== '' ? states[0] : undefined };
}

/**
 * The rest of the request, whose refusals are redirected to the client: `response_type=code` only, PKCE with S256
 * only (plain and absent are refused: RFC 9700 §2.1.1), a `resource` naming a deployment (default: the default one).
 */
export function authorizationRequest(query: URLSearchParams, redirect: TrustedRedirect, config: Config): AuthorizationRequest {
  for (const name of new Set(query.keys())) if (query.getAll(name).length > 1) throw invalidRequest(`parameter ${name} is repeated`);
  const responseType = query.get('response_type');
  if (!responseType) throw invalidRequest('response_type is required');
  if (responseType !== 'code') throw new OAuthError('unsupported_response_type', 'only response_type=code is supported');
  const method = query.get('code_challenge_method');
  const challenge = query.get('code_challenge');
  if (!challenge) throw invalidRequest('code_challenge is required (PKCE, S256)');
  if (method !== 'S256') throw invalidRequest('code_challenge_method must be S256');
  if (!isS256Challenge(challenge)) throw invalidRequest('code_challenge is not an S256 challenge');
  const target = resolveTarget(config, query.get('resource') || undefined, undefined);
  if (target.upstream === 'admin') throw new OAuthError('invalid_target', 'the CLI login is for a deployment, not the admin API');
  const scope = query.get('scope') || undefined;
  if (scope !== undefined && scope.split(' ').some((r) => r === '')) throw new OAuthError('invalid_scope', 'scope must be role names separated by single spaces');
  return { ...redirect, codeChallenge: challenge, upstream: target.upstream, scope };
}
