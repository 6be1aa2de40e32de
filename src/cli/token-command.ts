import { CliExit, EXIT } from './exit-codes.js';
import { openBrokerSession, type ServiceAccountOptions } from './service-account-token.js';

interface TokenOptions extends ServiceAccountOptions {
  resource?: string;
  authorizationDetails?: string;
  json?: boolean;
}

/**
 * `token`: a client-credentials grant at the broker, or without `--client-id` the token of `login`; prints the
 * access token (or the whole response with --json). Exit 1 on any error, 7 when the person must log in again.
 */
export async function token(options: TokenOptions): Promise<void> {
  try {
    if (!options.clientId && options.authorizationDetails !== undefined) throw new CliExit(EXIT.badInput, '--authorization-details needs --client-id');
    const broker = await openBrokerSession(options);
    const params: Record<string, string> = {};
    if (options.resource) params.resource = options.resource;
    if (options.authorizationDetails) params.authorization_details = options.authorizationDetails;
    const response = await broker.requestToken(params);
    process.stdout.write(options.json ? JSON.stringify(response, null, 2) + '\n' : `${response.access_token}\n`);
  } catch (err) {
    if (!(err instanceof CliExit) || err.code !== EXIT.loginRequired) throw err;
    process.stderr.write(`error: ${err.message}\n`);
    process.exitCode = err.code;
  }
}
