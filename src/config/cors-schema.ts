import { z } from 'zod';
import { duration } from './duration.js';

/**
 * CORS settings for browser apps: `upstreams.<name>.cors` for a proxied deployment, `token_endpoint_cors` for
 * `POST /oauth2/token`. Part of the config schema (src/config/schema.ts), kept here because both places share it.
 */

/** Methods a browser app may be allowed to call the proxy with (`OPTIONS` is the preflight itself, never listed). */
export const CORS_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

// An RFC 9110 token in lower case, without `*` (a wildcard is never written in the config) or a backtick.
const HEADER_NAME = /^[a-z0-9!#$%&'+.^_|~-]+$/;
const HOST = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])$/;

/**
 * Why `value` is not an origin as a browser sends it in `Origin` (`scheme://host[:port]`, lower case, no default
 * port, no path), or undefined when it is one. The comparison at request time is exact, so only that spelling can
 * ever match.
 */
function originProblem(value: string): string | undefined {
  if (value === 'null') return '"null" is the origin of sandboxed and file pages, which anyone can create: it is never allowed';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `"${value}" is not an origin: write scheme://host[:port], e.g. https://app.example.com`;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `"${value}" is not an http(s) origin`;
  // The URL parser takes `*` and other odd characters in a host name: an origin names one host, never a pattern.
  if (!HOST.test(url.hostname)) return `"${value}" is not an origin: the host must be one DNS name or IP address (no "*" or patterns)`;
  if (url.origin !== value) {
    return `"${value}" is not an origin as browsers send it: write "${url.origin}" (scheme://host[:port], lower case, no default port, no path or trailing slash)`;
  }
  return undefined;
}

const headerNames = (what: string) => z.array(z.string().regex(HEADER_NAME, `a header name (lower case, no "*"): ${what} are listed one by one`));

const corsFields = {
  allowed_origins: z
    .array(z.string())
    .min(1)
    .superRefine((origins, ctx) => {
      origins.forEach((origin, i) => {
        if (origin === '*' && origins.length === 1) return;
        const problem = origin === '*' ? '"*" stands alone: it already allows every origin' : originProblem(origin);
        if (problem) ctx.addIssue({ code: 'custom', path: [i], message: problem });
      });
    })
    .meta({
      description:
        'Origins of the browser apps allowed to call, each exactly as a browser sends it in `Origin`: ' +
        '`scheme://host[:port]` (lower case, no default port, no path, no trailing slash). Compared as strings: ' +
        '`https://app.example.com` does not allow `https://app.example.com.evil` nor `http://app.example.com`. ' +
        '`null` is refused. `["*"]` alone allows every origin and needs `allow_credentials: false`. An origin not ' +
        'listed gets no CORS headers, and its preflight is refused (403).',
      examples: [['https://airflow-app.example.com', 'http://localhost:5173']],
    }),
  allowed_headers: headerNames('allowed headers')
    .default(['authorization', 'content-type'])
    .meta({
      description:
        'Request headers a browser app may send (`Access-Control-Allow-Headers`), lower case. `authorization` carries ' +
        'the Bearer token; `content-type` a JSON body. A preflight asking for another header is refused.',
    }),
  exposed_headers: headerNames('exposed headers')
    .default(['www-authenticate', 'retry-after', 'x-request-id', 'etag', 'allow'])
    .meta({
      description:
        'Response headers the app\'s script may read beyond the CORS-safelisted ones (`Access-Control-Expose-Headers`): ' +
        'by default the error challenge, `Retry-After`, the request id to quote in a support request, `ETag` and `Allow`.',
    }),
  max_age: duration().prefault('10m').meta({
    description: 'How long a browser may cache a preflight answer (`Access-Control-Max-Age`; Chromium caps it at 2h).',
  }),
  allow_credentials: z.boolean().default(false).meta({
    description:
      'Send `Access-Control-Allow-Credentials: true`, so an app may call with `credentials: "include"`. The proxy ' +
      'and the token endpoint use no cookies: a Bearer token in `Authorization` needs no credentials mode, so leave ' +
      'this off unless something in front of the broker authenticates browsers by cookie or TLS client certificate. ' +
      'Refused together with `allowed_origins: ["*"]`.',
  }),
};

const noWildcardWithCredentials = <T extends { allowed_origins: string[]; allow_credentials: boolean }>(c: T, ctx: z.RefinementCtx) => {
  if (c.allow_credentials && c.allowed_origins.includes('*')) {
    ctx.addIssue({
      code: 'custom',
      path: ['allow_credentials'],
      message: 'allow_credentials: true with allowed_origins ["*"] would let every web site act with the browser\'s credentials: list the origins',
    });
  }
};

/** `upstreams.<name>.cors`: browser apps calling this deployment through the proxy. */
export const deploymentCors = z
  .strictObject({
    ...corsFields,
    allowed_methods: z
      .array(z.enum(CORS_METHODS))
      .min(1)
      .default([...CORS_METHODS])
      .meta({ description: 'Methods a browser app may call with (`Access-Control-Allow-Methods`); a preflight asking for another is refused.' }),
  })
  .superRefine(noWildcardWithCredentials)
  .meta({
    description:
      'CORS for browser apps calling this deployment through the proxy. The proxy answers preflights (`OPTIONS` with ' +
      '`Origin` and `Access-Control-Request-Method`) itself, before authentication, and adds the CORS headers to ' +
      'every answer to an allowed origin, errors included, with `Vary: Origin`. Airflow\'s own `Access-Control-*` ' +
      'headers are never relayed. Absent: no CORS (a preflight is then an `OPTIONS` like any other).',
    examples: [{ allowed_origins: ['https://airflow-app.example.com'] }],
  });

/** `token_endpoint_cors`: browser apps getting tokens at `POST /oauth2/token`. */
export const tokenEndpointCors = z
  .strictObject(corsFields)
  .superRefine(noWildcardWithCredentials)
  .meta({
    description:
      'CORS on the token endpoint (`POST /oauth2/token` only), for browser apps that exchange the user\'s directory ' +
      'token for a broker token (token exchange needs no client secret: never put one in a browser app). Preflights ' +
      'are answered for `POST`; every answer to an allowed origin, errors included, carries the CORS headers. ' +
      'Absent (the default): no CORS there, so browsers keep other origins from reading its answers.',
    examples: [{ allowed_origins: ['https://airflow-app.example.com'] }],
  });

export type DeploymentCorsConfig = z.output<typeof deploymentCors>;
export type TokenEndpointCorsConfig = z.output<typeof tokenEndpointCors>;
