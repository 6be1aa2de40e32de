import { invalidClient, invalidRequest } from '../errors/oauth-error.js';

export interface PresentedClient {
  clientId: string;
  clientSecret: string;
  method: 'client_secret_basic' | 'client_secret_post';
}

/**
 * Reads the client credentials a request presents (RFC 6749 §2.3.1): HTTP Basic with form-encoded id and
 * secret, or `client_id` + `client_secret` in the body; never both. Only reads, never checks them.
 */
export function presentedClient(authorization: string | undefined, params: ReadonlyMap<string, string>): PresentedClient | undefined {
  const bodyId = params.get('client_id');
  const bodySecret = params.get('client_secret');
  if (authorization !== undefined) {
    const match = /^Basic ([A-Za-z0-9+/]+={0,2})$/i.exec(authorization.trim());
    if (!match) throw invalidClient(new Error('unsupported or malformed Authorization header'));
    const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 1) throw invalidClient(new Error('malformed Basic credentials'));
    const clientId = formDecode(decoded.slice(0, colon));
    const clientSecret = formDecode(decoded.slice(colon + 1));
    if (clientId === undefined || clientSecret === undefined || clientSecret === '') throw invalidClient(new Error('malformed Basic credentials'));
    if (bodySecret !== undefined) throw invalidRequest('use only one client authentication method');
    if (bodyId !== undefined && bodyId !== clientId) throw invalidRequest('client_id does not match the Authorization header');
    return { clientId, clientSecret, method: 'client_secret_basic' };
  }
  if (bodySecret !== undefined) {
    if (bodyId === undefined) throw invalidRequest('client_secret without client_id');
    return { clientId: bodyId, clientSecret: bodySecret, method: 'client_secret_post' };
  }
  return undefined;
}

function formDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}
