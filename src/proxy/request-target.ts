/**
 * Decides on the exact bytes of the path the proxy forwards. Anything a server, a framework or a normaliser
 * could read differently from us is refused: the path we authorize must be the path Airflow routes.
 */

export interface RequestTarget {
  /** The raw path as received (validated), e.g. `/airflow/prod/api/v2/dags/etl_daily`. */
  path: string;
  /** Raw path segments (still percent-encoded), without the empty leading one. */
  segments: readonly string[];
  /** The raw query string without `?`, or ''. */
  query: string;
  /** The query parsed once, as the decision reads it. */
  params: URLSearchParams;
}

export class BadRequestTarget extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'BadRequestTarget';
  }
}

// Percent-encodings that decode to a separator, a dot, a backslash, `;`, `?`, `#` or a control character.
const DANGEROUS_ESCAPE = /%(2f|5c|2e|3b|3f|23|25|[01][0-9a-f]|7f)/i;
// Bytes allowed raw in a path segment (RFC 3986 pchar minus `;`, which some servers treat as parameters).
const SEGMENT = /^(?:[A-Za-z0-9\-._~!$&'()*+,=:@]|%[0-9A-Fa-f]{2})+$/;
const QUERY = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*$/;
// The common shape, checked in one pass: non-empty segments of raw pchar bytes without `%` (nothing to decode, so
// nothing to read differently) and without `;`. Such a path needs only the dot-segment check; any other goes
// segment by segment below, with the same refusals.
const PLAIN_PATH = /^(?:\/[A-Za-z0-9\-._~!$&'()*+,=:@]+)+$/;
const DOT_SEGMENT = /\/\.\.?(?:\/|$)/;

export function parseRequestTarget(rawUrl: string): RequestTarget {
  if (!rawUrl.startsWith('/')) throw new BadRequestTarget('only origin-form request targets are accepted');
  if (rawUrl.includes('#')) throw new BadRequestTarget('fragment in request target');
  const q = rawUrl.indexOf('?');
  const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
  const query = q < 0 ? '' : rawUrl.slice(q + 1);
  const plain = PLAIN_PATH.test(path);
  if (plain && DOT_SEGMENT.test(path)) throw new BadRequestTarget('dot segment in path');
  const segments = path.slice(1).split('/');
  if (!plain) checkSegments(path, segments);
  // No query (the common case): nothing to validate and no names to check.
  if (query === '') return { path, segments, query, params: new URLSearchParams() };
  if (!QUERY.test(query)) throw new BadRequestTarget('invalid character in query');
  const params = new URLSearchParams(query);
  checkQueryNames(params);
  return { path, segments, query, params };
}

/** The full check of a path that is not of the plain shape, segment by segment. */
function checkSegments(path: string, segments: readonly string[]): void {
  if (path.includes('\\')) throw new BadRequestTarget('backslash in path');
  if (path.includes(';')) throw new BadRequestTarget('path parameters (;) are not accepted');
  if (DANGEROUS_ESCAPE.test(path)) throw new BadRequestTarget('encoded separator, dot or control character in path');
  for (const segment of segments) {
    if (segment === '') throw new BadRequestTarget('empty path segment');
    if (segment === '.' || segment === '..') throw new BadRequestTarget('dot segment in path');
    if (!SEGMENT.test(segment)) throw new BadRequestTarget('invalid character in path');
    try {
      decodeURIComponent(segment);
    } catch {
      throw new BadRequestTarget('invalid percent-encoding in path');
    }
  }
}

/**
 * Query parameter names refused whatever the operation, compared as a server would read them (percent- and
 * `+`-decoded), case-insensitively and without `-`/`_`, so `%5Fmethod`, `X-HTTP-Method-Override` and
 * `x_http_method_override` are all caught: a bearer token (RFC 6750 §2.3 is not supported: it would reach
 * Airflow's access logs) and the method overrides some frameworks honour (the headers are refused too).
 */
const REFUSED_QUERY_NAMES = new Map([
  ['accesstoken', 'access_token in the query is not accepted; send the token in the Authorization header'],
  ['method', 'method override parameters are not accepted'],
  ['xhttpmethodoverride', 'method override parameters are not accepted'],
  ['xhttpmethod', 'method override parameters are not accepted'],
  ['xmethodoverride', 'method override parameters are not accepted'],
]);

function checkQueryNames(params: URLSearchParams): void {
  for (const name of params.keys()) {
    const refused = REFUSED_QUERY_NAMES.get(name.toLowerCase().replace(/[-_]/g, ''));
    if (refused) throw new BadRequestTarget(refused);
  }
}

/** Request headers whose presence means someone is trying to change how the request is understood. */
export const METHOD_OVERRIDE_HEADERS = ['x-http-method-override', 'x-http-method', 'x-method-override'];

/** Headers that must not be repeated (a second copy may be read by a component we do not control), one bit each. */
const SINGLE_HEADERS = new Map(['authorization', 'host', 'content-length', 'content-type', 'transfer-encoding'].map((name, i) => [name, 1 << i]));
const OVERRIDE_HEADERS = new Set(METHOD_OVERRIDE_HEADERS);

/** Checks the raw header list: no repeated Authorization/Host, no method override. Allocates nothing per request. */
export function checkRequestHeaders(rawHeaders: readonly string[]): void {
  let seen = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (OVERRIDE_HEADERS.has(name)) throw new BadRequestTarget(`${name} is not accepted`);
    const bit = SINGLE_HEADERS.get(name);
    if (bit === undefined) continue;
    if (seen & bit) throw new BadRequestTarget(`repeated ${name} header`);
    seen |= bit;
  }
}
