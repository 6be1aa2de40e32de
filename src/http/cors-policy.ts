import type { DeploymentCorsConfig, TokenEndpointCorsConfig } from '../config/cors-schema.js';

/** What a preflight asked for: its `Origin`, `Access-Control-Request-Method` and `-Headers`. */
export interface PreflightRequest {
  origin: string | undefined;
  method: string;
  headers: string | undefined;
}

/**
 * The answer to a preflight: the headers to send with a 204, or why it is refused (the origin is not allowed, or
 * it asked for a method or a header that is not) with the text for the refusal.
 */
export type PreflightVerdict =
  | { allowed: true; headers: Record<string, string> }
  | { allowed: false; refused: 'origin' | 'method' | 'header'; description: string };

/**
 * One place's CORS decisions, compiled from its configuration (a deployment's `cors`, `token_endpoint_cors`). Pure:
 * the transports (src/http/cors.ts) read the request and write what this returns.
 *
 * @example
 * const cors = new CorsPolicy({ allowed_origins: ['https://app.example.com'], ... }, ['POST']);
 * cors.responseHeaders('https://app.example.com.evil'); // { Vary: 'Origin' }: no Access-Control-* at all
 */
export class CorsPolicy {
  readonly #anyOrigin: boolean;
  readonly #origins: ReadonlySet<string>;
  readonly #methods: ReadonlySet<string>;
  readonly #headers: ReadonlySet<string>;
  readonly #preflightHeaders: Record<string, string>;
  readonly #credentials: Record<string, string>;
  readonly #exposed: Record<string, string>;

  constructor(config: DeploymentCorsConfig | TokenEndpointCorsConfig, allowedMethods: readonly string[]) {
    const methods = [...new Set(allowedMethods)];
    const headers = [...new Set(config.allowed_headers)];
    this.#anyOrigin = config.allowed_origins.includes('*');
    this.#origins = new Set(config.allowed_origins);
    this.#methods = new Set(methods);
    this.#headers = new Set(headers);
    this.#credentials = config.allow_credentials ? { 'Access-Control-Allow-Credentials': 'true' } : {};
    this.#exposed = config.exposed_headers.length > 0 ? { 'Access-Control-Expose-Headers': config.exposed_headers.join(', ') } : {};
    this.#preflightHeaders = {
      'Access-Control-Allow-Methods': methods.join(', '),
      ...(headers.length > 0 ? { 'Access-Control-Allow-Headers': headers.join(', ') } : {}),
      'Access-Control-Max-Age': String(Math.floor(config.max_age / 1000)),
    };
  }

  /** An exact match: no prefix, suffix, case or `null` games (the config only holds origins as browsers send them). */
  allows(origin: string | undefined): origin is string {
    return origin !== undefined && (this.#anyOrigin || this.#origins.has(origin));
  }

  /**
   * Headers for any answer but a preflight's: `Vary: Origin` always (a cache must not hand one origin's answer to
   * another), the `Access-Control-*` ones only for an allowed origin.
   */
  responseHeaders(origin: string | undefined): Record<string, string> {
    if (!this.allows(origin)) return { Vary: 'Origin' };
    return { ...this.#allowOrigin(origin), ...this.#credentials, ...this.#exposed, Vary: 'Origin' };
  }

  preflight(request: PreflightRequest): PreflightVerdict {
    if (!this.allows(request.origin)) return { allowed: false, refused: 'origin', description: 'CORS preflight refused: this origin is not allowed' };
    if (!this.#methods.has(request.method)) {
      return { allowed: false, refused: 'method', description: `CORS preflight refused: method ${printable(request.method)} is not allowed` };
    }
    const asked = (request.headers ?? '').split(',').map((h) => h.trim().toLowerCase()).filter((h) => h !== '');
    const refused = asked.find((h) => !this.#headers.has(h));
    if (refused !== undefined) return { allowed: false, refused: 'header', description: `CORS preflight refused: header ${printable(refused)} is not allowed` };
    return { allowed: true, headers: { ...this.#allowOrigin(request.origin), ...this.#credentials, ...this.#preflightHeaders, Vary: 'Origin' } };
  }

  #allowOrigin(origin: string): Record<string, string> {
    // `*` only where no credentials are allowed (the config refuses both); otherwise the one origin, never a list.
    return { 'Access-Control-Allow-Origin': this.#anyOrigin ? '*' : origin };
  }
}

/** A request value echoed in a refusal: bounded, printable ASCII only. */
function printable(value: string): string {
  return value.replace(/[^\x21-\x7e]/g, '?').slice(0, 64);
}
