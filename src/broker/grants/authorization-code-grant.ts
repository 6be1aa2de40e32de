import type { Config } from '../../config/schema.js';
import { invalidClient, invalidRequest, OAuthError } from '../../errors/oauth-error.js';
import type { Logger } from '../../observability/logger.js';
import type { RevocationStore } from '../../tokens/revocation-store.js';
import type { AuthorizationCodes, IssuedFromCode } from '../authorization/authorization-codes.js';
import { verifierMatches } from '../authorization/pkce.js';
import { resolveTarget } from '../target.js';
import type { Grant, GrantRequest } from './grant.js';

export interface AuthorizationCodeGrantOptions {
  config: Config;
  /** The registered public client (`login.cli.client_id`). */
  clientId: string;
  codes: AuthorizationCodes;
  revocations: RevocationStore;
  /** A replayed code is an attack signal (a code leaked from the loopback redirect): logged at warn. */
  logger: Logger;
}

/** Every refusal of the code itself reads the same: an attacker learns nothing about the code it holds. */
const badCode = () => new OAuthError('invalid_grant', 'the code is invalid, expired, already used, or was issued for another request');

/**
 * `authorization_code` (RFC 6749 §4.1.3) for the CLI, a public client: the code is taken once, and must have been
 * issued to this client, for this `redirect_uri`, with the S256 challenge of this `code_verifier` (RFC 7636), for
 * the deployment the token is asked for. A code used twice gets the tokens issued from it revoked (§10.5).
 */
export function authorizationCodeGrant(options: AuthorizationCodeGrantOptions): Grant {
  const { config, codes, revocations } = options;
  const revoke = (tokens: IssuedFromCode[]) => Promise.all(tokens.map((t) => revocations.revoke(t.jti, t.exp * 1000)));
  return {
    grantType: 'authorization_code',
    async identify({ params, client }: GrantRequest) {
      if (client) throw invalidRequest('the CLI is a public client: send client_id without client authentication');
      const clientId = params.get('client_id');
      if (clientId === undefined) throw invalidRequest('client_id is required');
      if (clientId !== options.clientId) throw invalidClient(new Error(`${clientId} is not a registered public client`));
      const value = params.get('code');
      const redirectUri = params.get('redirect_uri');
      if (value === undefined) throw invalidRequest('code is required');
      if (redirectUri === undefined) throw invalidRequest('redirect_uri is required');
      const redemption = await codes.redeem(value);
      if (redemption.outcome === 'replayed') {
        await revoke(redemption.issued);
        options.logger.warn({ client_id: clientId, revoked: redemption.issued.map((t) => t.jti) }, 'authorization code used again: the tokens issued from it are revoked');
        throw badCode();
      }
      if (redemption.outcome === 'unknown') throw badCode();
      const { code } = redemption;
      if (code.clientId !== clientId || code.redirectUri !== redirectUri) throw badCode();
      if (!verifierMatches(params.get('code_verifier') ?? '', code.codeChallenge)) throw badCode();
      if (resolveTarget(config, params.get('resource'), params.get('audience')).upstream !== code.upstream) {
        throw new OAuthError('invalid_target', 'the code was issued for another deployment: repeat its resource');
      }
      const scope = params.get('scope');
      if (code.scope !== undefined && (scope === undefined || scope.split(' ').some((r) => !code.scope!.split(' ').includes(r)))) {
        throw new OAuthError('invalid_scope', 'the token request may only narrow the roles the code was issued for');
      }
      return code.identity;
    },
    async issued({ params }: GrantRequest, token: IssuedFromCode) {
      if (await codes.recordIssued(params.get('code')!, token)) return;
      await revoke([token]);
      throw badCode();
    },
  };
}
