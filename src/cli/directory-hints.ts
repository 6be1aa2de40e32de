import type { DirectoryProblem } from '../directory/directory.js';

/** What the report knows when it suggests a fix: the directory's config name, for config paths in the hints. */
export interface HintContext {
  directory: string;
  issuer: string;
}

/**
 * The fix to try for a problem, in the words of the directories admins actually run (Keycloak, Entra ID, Okta).
 * Hints only advise: every verdict comes from the broker's own checks.
 */
export function hintFor(problem: DirectoryProblem, ctx: HintContext): string | undefined {
  const at = `directories.${ctx.directory}`;
  switch (problem.code) {
    case 'directory_unreachable':
      return `check ${at}.issuer and that this host reaches it (proxy, firewall, TLS); discovery reads <issuer>/.well-known/openid-configuration (Keycloak: https://<host>/realms/<realm>)`;
    case 'discovery_issuer_mismatch':
    case 'issuer_mismatch':
      return issuerHint(String(problem.expected ?? ctx.issuer), problem.received, at);
    case 'client_refused':
      return 'check the client id and the secret: directories do not say which one is wrong (Keycloak: the client needs Client authentication and Service accounts roles on; Entra: use the secret\'s value, not its id)';
    case 'grant_refused':
      return problem.received === 'unauthorized_client'
        ? 'the directory does not allow this client the client-credentials grant (Keycloak: Service accounts roles on; Okta: a service app with the client-credentials grant)'
        : `the directory refused what the broker asks for: check ${at}.client_credentials.scope and .resource (Entra: scope api://<app>/.default)`;
    case 'not_a_jwt':
      return `Entra: request a token for the broker's own app registration (${at}.client_credentials.scope: api://<app>/.default), not for Microsoft Graph; Okta: use a custom authorization server (https://<org>.okta.com/oauth2/<id>); Google's access tokens are opaque: exchange a Google ID token instead`;
    case 'audience_mismatch':
      return audienceHint(String(problem.expected), problem.received, at);
    case 'algorithm_not_allowed':
      return `if the directory really signs with ${String(problem.received)}, add it to the algorithms the config accepts from ${ctx.directory} (docs/configuration.md); otherwise find out who signed this token`;
    case 'unknown_key':
      return 'the directory signed with a key its jwks_uri does not publish (a new key, or another key set): run the check again; if it persists, compare the jwks_uri with the token\'s kid';
    case 'signature_invalid':
      return 'the token was not signed by the key it names: something between the broker and the directory changes tokens, or the key set is not the directory\'s';
    case 'key_set_unreadable':
      return 'the jwks_uri of the discovery document failed: check that this host reaches it';
    case 'expired':
    case 'not_yet_valid':
      return 'compare the clocks of this host and the directory (30 s of skew are tolerated)';
    case 'other_client':
      return `the claims in ${at}.claims.client_id (default client_id, then azp) name another client: point them at the claim that holds this client's id`;
    case 'token_refused':
      return undefined;
  }
}

const ENTRA_V1 = /^https:\/\/sts\.windows\.net\/([0-9a-f-]{36})\/$/i;
const ENTRA_V2 = /^https:\/\/login\.microsoftonline\.com\/([0-9a-f-]{36})\/v2\.0$/i;

function issuerHint(expected: string, received: unknown, at: string): string {
  if (typeof received !== 'string') return `the token must carry iss ${JSON.stringify(expected)}`;
  if (received.replace(/\/$/, '') === expected.replace(/\/$/, '')) {
    return `the two differ only by a trailing slash: write ${at}.issuer exactly as the directory writes it, ${JSON.stringify(received)}`;
  }
  const v1 = ENTRA_V1.exec(received);
  if (v1 && ENTRA_V2.exec(expected)?.[1]?.toLowerCase() === v1[1]!.toLowerCase()) {
    return 'Entra ID issued a v1 token: set "requestedAccessTokenVersion": 2 (api section of the manifest; accessTokenAcceptedVersion in the older format) on the app registration the token is for';
  }
  return `if ${JSON.stringify(received)} is the directory you mean, set ${at}.issuer to exactly that; Keycloak names itself after KC_HOSTNAME (in dev mode without it: the URL it was called at), so set KC_HOSTNAME to the URL clients use`;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function audienceHint(expected: string, received: unknown, at: string): string {
  const values = Array.isArray(received) ? received : received === undefined ? [] : [received];
  const safety = 'the audience must name this broker: never accept one that names another API';
  if (values.length === 0 || values.includes('account')) {
    return (
      `Keycloak sends aud "account" (or none) unless told otherwise: add an audience mapper (Clients > the client > Client scopes > ` +
      `<client>-dedicated > Add mapper > By configuration > Audience, Included Custom Audience ${JSON.stringify(expected)}, Add to access token on), ` +
      `or a shared client scope with that mapper; ${safety}`
    );
  }
  if (values.includes('api://default')) {
    return `Okta's default authorization server sends aud "api://default": set its audience (Security > API > Authorization Servers > Settings) to ${JSON.stringify(expected)}, or use a custom authorization server for the broker; ${safety}`;
  }
  if (values.some((v) => typeof v === 'string' && (GUID.test(v) || v.startsWith('api://')))) {
    return (
      `Entra ID: a v2 token's aud is the application (client) id of the app registration it was requested for, a v1 token's its ` +
      `Application ID URI; with ${at}.client_credentials.scope api://<broker app>/.default, set ${at}.client_credentials.audience to the ` +
      `broker app's client id and "requestedAccessTokenVersion": 2 in its manifest; ${safety}`
    );
  }
  return `make the directory put ${JSON.stringify(expected)} in aud (Okta: the audience of the authorization server; Auth0: the API identifier), or set ${at}.client_credentials.audience to the value that names this broker; ${safety}`;
}
