import type { Config } from '../config/schema.js';
import type { DirectoryIdentity } from '../directory/directory.js';
import type { PolicyStore } from '../policy/policy-store.js';
import type { AccessTokenIssuer, IssuedToken } from '../tokens/access-token-issuer.js';
import type { AccessTokenClaims } from '../tokens/access-token.js';
import { assertWithinRoles, parseAuthorizationDetails } from './authorization-details.js';
import { resolveRoles, rolesForDeployment, tokenLifetimeMs } from './role-resolution.js';
import { resolveTarget } from './target.js';
import { invalidRequest, OAuthError } from '../errors/oauth-error.js';
import type { RevocationStore } from '../tokens/revocation-store.js';

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  issued_token_type?: string;
  authorization_details?: AccessTokenClaims['authorization_details'];
}

export interface IssueResult {
  response: TokenResponse;
  claims: IssuedToken['claims'];
  policyHash: string;
  /** The deployment the token is for (`admin` for the admin API). */
  deployment: string;
}

/** Turns a vouched-for identity and the request's scope, details and target into a signed token. */
export class TokenService {
  constructor(
    private readonly config: Config,
    private readonly policies: PolicyStore,
    private readonly issuer: AccessTokenIssuer,
    private readonly revocations: RevocationStore,
    private readonly now: () => number = Date.now,
  ) {}

  async issue(identity: DirectoryIdentity, params: ReadonlyMap<string, string>): Promise<IssueResult> {
    // Read on every request, whatever the grant: a revoked service account gets nothing new until an admin lifts it.
    if (await this.revocations.blockOn({ sub: identity.subject, client_id: identity.clientId })) throw issuanceBlocked(params.get('grant_type'));
    const policy = this.policies.current(); // one version for the whole request
    const bound = resolveRoles(policy, identity, params.get('scope'));
    const details = parseAuthorizationDetails(params.get('authorization_details'));
    const target = resolveTarget(this.config, params.get('resource'), params.get('audience'));
    if (target.upstream === 'admin' && !bound.some((r) => policy.roles.get(r)?.admin)) {
      throw new OAuthError('invalid_scope', 'admin API tokens need a role with admin: true');
    }
    // A deployment token carries only the roles that grant something there; admin tokens are for no deployment.
    const deployment = target.upstream === 'admin' ? undefined : target.upstream;
    const roles = deployment === undefined ? bound : rolesForDeployment(policy, bound, deployment, params.has('scope'));
    if (details) assertWithinRoles(details, policy, roles, deployment);
    const ttlMs = tokenLifetimeMs(policy, roles, this.config.tokens.default_ttl, this.config.tokens.max_ttl);
    // An exchanged token never outlives the token it was exchanged for (jose let that one through within the leeway).
    if (identity.expiresAt !== undefined && identity.expiresAt * 1000 - this.now() < 1000) {
      throw invalidRequest('subject_token has expired');
    }
    const { token, claims } = await this.issuer.issue({
      subject: identity.subject,
      clientId: identity.clientId,
      audience: target.audience,
      roles,
      authorizationDetails: details,
      ttlMs,
      notAfter: identity.expiresAt,
    });
    const response: TokenResponse = {
      access_token: token,
      token_type: 'Bearer',
      expires_in: claims.exp - claims.iat,
      scope: claims.scope,
      ...(details ? { authorization_details: details } : {}),
    };
    return { response, claims, policyHash: policy.hash, deployment: target.upstream };
  }
}

/**
 * A blocked subject or client. With client credentials the client's credentials are no longer honoured
 * (RFC 6749 §5.2 `invalid_client`); a subject token "unacceptable based on policy" is `invalid_request`
 * (RFC 8693 §2.2.2). Either way the caller must not retry: a security admin has to lift the block.
 */
function issuanceBlocked(grantType: string | undefined): OAuthError {
  const description = 'new tokens for this client or subject are blocked by a security admin';
  return grantType === 'client_credentials' ? new OAuthError('invalid_client', description) : invalidRequest(description);
}
