import type { Directories } from '../../directory/directories.js';
import { unverifiedIssuer, type SubjectTokenType } from '../../directory/directory.js';
import { invalidRequest } from '../../errors/oauth-error.js';
import { parseCompactJws } from '../../tokens/compact-jws.js';
import type { Grant, GrantRequest } from './grant.js';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const TOKEN_TYPE_PREFIX = 'urn:ietf:params:oauth:token-type:';
const ISSUED_TYPES = new Set([`${TOKEN_TYPE_PREFIX}access_token`, `${TOKEN_TYPE_PREFIX}jwt`]);

/**
 * RFC 8693 token exchange: a workload trades a token of a trusted directory for one of ours, without a
 * secret of its own. Every refusal of the request or its tokens is `invalid_request` (RFC 8693 §2.2.2).
 */
export function tokenExchangeGrant(directories: Directories): Grant {
  return {
    grantType: TOKEN_EXCHANGE,
    async identify({ params, client }: GrantRequest) {
      if (client) throw invalidRequest('token exchange takes no client authentication');
      if (params.has('actor_token') || params.has('actor_token_type')) throw invalidRequest('delegation (actor_token) is not supported');
      const requested = params.get('requested_token_type');
      if (requested !== undefined && !ISSUED_TYPES.has(requested)) throw invalidRequest('requested_token_type is not supported');
      const subjectToken = params.get('subject_token');
      const subjectType = params.get('subject_token_type');
      if (subjectToken === undefined) throw invalidRequest('subject_token is required');
      if (subjectType === undefined) throw invalidRequest('subject_token_type is required');
      if (!subjectType.startsWith(TOKEN_TYPE_PREFIX)) throw invalidRequest('subject_token_type is not supported');
      const type = subjectType.slice(TOKEN_TYPE_PREFIX.length);
      if (type !== 'access_token' && type !== 'id_token' && type !== 'jwt') throw invalidRequest('subject_token_type is not supported');
      const jws = parseCompactJws(subjectToken);
      if (!jws) throw invalidRequest('subject_token is not a compact JWT');
      const issuer = unverifiedIssuer(jws);
      if (issuer === undefined) throw invalidRequest('subject_token names no issuer');
      const directory = directories.forSubjectTokenIssuer(issuer);
      if (!directory) throw invalidRequest('subject_token issuer is not trusted');
      return directory.verifySubjectToken(subjectToken, type as SubjectTokenType);
    },
  };
}
