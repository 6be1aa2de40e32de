/**
 * The one redirect path of the CLI (a native app, RFC 8252): `http://127.0.0.1:<port>/callback` or
 * `http://[::1]:<port>/callback`. The port is the CLI's to choose per login (§7.3); the path is fixed.
 */
export const CLI_REDIRECT_PATH = '/callback';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]']);

/**
 * Why `uri` is not a loopback redirect URI the broker sends codes to, or undefined when it is one. Only the
 * literal loopback IPs (`localhost` may resolve elsewhere, RFC 8252 §8.3), over http, with an explicit port, the
 * registered path, and nothing else: no user info, query or fragment, and written exactly as the URL parser
 * writes it back, so the string compared at the token endpoint is the one a browser is sent to.
 */
export function loopbackRedirectProblem(uri: string, path: string = CLI_REDIRECT_PATH): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'redirect_uri is not a URL';
  }
  if (url.protocol !== 'http:' || !LOOPBACK_HOSTS.has(url.hostname)) return 'redirect_uri must be http://127.0.0.1:<port> or http://[::1]:<port> (RFC 8252 loopback)';
  if (url.port === '') return 'redirect_uri must name its port';
  if (url.username !== '' || url.password !== '') return 'redirect_uri must not carry user info';
  if (url.pathname !== path) return `redirect_uri must have the path ${path}`;
  if (url.search !== '' || url.hash !== '' || uri.includes('?') || uri.includes('#')) return 'redirect_uri must have no query or fragment';
  if (url.href !== uri) return 'redirect_uri must be written in its normal form';
  return undefined;
}
