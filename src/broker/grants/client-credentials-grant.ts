import type { Directory } from '../../directory/directory.js';
import { invalidClient } from '../../errors/oauth-error.js';
import type { Grant, GrantRequest } from './grant.js';

/** `client_credentials`: a service account whose credentials the directory checks. No refresh token. */
export function clientCredentialsGrant(directory: Directory): Grant {
  return {
    grantType: 'client_credentials',
    async identify({ client }: GrantRequest) {
      if (!client) throw invalidClient(new Error('no client credentials presented'));
      return directory.authenticateClient(client.clientId, client.clientSecret);
    },
  };
}
