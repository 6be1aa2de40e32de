import { openBrokerSession, type ServiceAccountOptions } from './service-account-token.js';

interface TokenOptions extends ServiceAccountOptions {
  resource?: string;
  authorizationDetails?: string;
  json?: boolean;
}

/** `token`: a client-credentials grant at the broker; prints the access token (or the whole response with --json). */
export async function token(options: TokenOptions): Promise<void> {
  const broker = await openBrokerSession(options);
  const params: Record<string, string> = {};
  if (options.resource) params.resource = options.resource;
  if (options.authorizationDetails) params.authorization_details = options.authorizationDetails;
  const response = await broker.requestToken(params);
  process.stdout.write(options.json ? JSON.stringify(response, null, 2) + '\n' : `${response.access_token}\n`);
}
