import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { LRUCache } from 'lru-cache';
import type { Operation } from '../airflow/catalog/operation.js';
import { OAuthError } from '../errors/oauth-error.js';
import type { PolicyStore } from '../policy/policy-store.js';
import type { ProxyAuthenticator, VerifiedToken } from './authenticate.js';
import type { Decision } from './authorize.js';
import type { Deployment } from './deployments.js';
import { exposeOpenApiDocument, type OpenApiDocument } from './openapi-document.js';
import { callableOperations } from './openapi-document-access.js';
import type { OpenApiDocumentCache } from './openapi-document-cache.js';
import { principalOf } from './principal-of.js';

export interface OpenApiEndpointOptions {
  /** `<issuer>` and the proxy's `path_prefix`: the document's server is `<issuer><prefix>/<deployment>`. */
  issuer: string;
  prefix: string;
  /** The broker's token endpoint, the `tokenUrl` of the OAuth 2.0 client credentials flow. */
  tokenUrl: string;
  authenticator: Pick<ProxyAuthenticator, 'verifiedToken'>;
  policies: PolicyStore;
  documents: OpenApiDocumentCache;
}

/** What serving the document tells the proxy's audit record. */
export interface OpenApiTrail {
  path: string;
  /** The caller's verified token (claims and roles), when one was presented. */
  token?: VerifiedToken;
  policyHash?: string;
  decision?: Decision;
}

/** `<prefix>/<deployment>/openapi.json`, where Airflow 3 serves its own at the root. */
export const isOpenApiDocumentPath = (belowDeployment: readonly string[]): boolean => belowDeployment.length === 1 && belowDeployment[0] === 'openapi.json';

const SERVED: Decision = { allowed: true, reason: 'public-operation', rule: undefined, verdicts: [], operation: undefined, filter: undefined };

/**
 * `GET <issuer>/airflow/<deployment>/openapi.json`: Airflow's OpenAPI document as the proxy exposes it. Public like
 * Airflow's (every operation the proxy routes); with a Bearer token for the deployment, only the operations that
 * token may call for some resource; an invalid token is refused (401) as on any proxied call.
 */
export function serveOpenApiDocument(o: OpenApiEndpointOptions) {
  const base = o.issuer.replace(/\/$/, '') + o.prefix;
  // Written documents, reused while Airflow's document and the policy version stay the same: the public one per
  // deployment, and one per deployment and scope for tokens without narrowing (a handful of role sets).
  const written = new LRUCache<string, Written>({ max: 256 });
  const PUBLIC = {};

  function write(deployment: Deployment, airflow: OpenApiDocument, policy: object, key: string | undefined, include: (op: Operation) => boolean): Written {
    const held = key === undefined ? undefined : written.get(key);
    if (held && held.airflow === airflow && held.policy === policy) return held;
    const api = deployment.api;
    const exposure = { deploymentUrl: `${base}/${deployment.name}`, tokenUrl: o.tokenUrl, apiRoot: api.root, pathsBelowRoot: api.openApi.pathsBelowRoot, operations: api.operations };
    const document: Written = { airflow, policy, json: Buffer.from(JSON.stringify(exposeOpenApiDocument(airflow, { ...exposure, include }))) };
    if (key !== undefined) written.set(key, document);
    return document;
  }

  return async function serveOpenApiDocument(deployment: Deployment, req: IncomingMessage, res: ServerResponse, trail: OpenApiTrail): Promise<void> {
    trail.path = '/openapi.json';
    // HEAD as Airflow 3 answers it for its own document (Starlette adds HEAD to a GET route); Node sends no body.
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new OAuthError('invalid_request', 'the OpenAPI document is read with GET', { status: 405, headers: { Allow: 'GET, HEAD' } });
    let document: Written;
    if (req.headers.authorization === undefined) {
      document = write(deployment, await o.documents.get(deployment), PUBLIC, deployment.name, () => true);
    } else {
      trail.token = await o.authenticator.verifiedToken(req.headers.authorization, deployment.audience);
      const { claims } = trail.token;
      const policy = o.policies.current();
      trail.policyHash = policy.hash;
      const principal = principalOf(trail.token, policy, deployment.name);
      const caller = { subject: claims.sub, clientId: claims.client_id, roles: principal.rolesHere, policy, claims: claims as unknown as Record<string, unknown> };
      const airflow = await o.documents.get(deployment, () => deployment.credentials.authorization(caller));
      // Deployment names have no space; a narrowed token's document is its own.
      const key = claims.authorization_details ? undefined : `${deployment.name} ${claims.scope}`;
      document = write(deployment, airflow, policy, key, callableOperations(principal));
    }
    trail.decision = SERVED;
    // About 370 kB of JSON, a seventh of that compressed: compressed once per written document.
    const gzip = acceptsGzip(req.headers['accept-encoding']);
    const body = gzip ? (document.gzip ??= gzipSync(document.json)) : document.json;
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': body.length,
      ...(gzip && { 'content-encoding': 'gzip' }),
      // The filtered document says what its token may do: for that caller only.
      'cache-control': req.headers.authorization === undefined ? 'public, max-age=300' : 'private, no-cache',
      vary: 'Authorization, Accept-Encoding',
    });
    res.end(body);
  };
}

/** A document as sent, and what it was written from. */
interface Written {
  airflow: OpenApiDocument;
  policy: object;
  json: Buffer;
  gzip?: Buffer;
}

/** `Accept-Encoding` gives gzip, or else `*`, a non-zero weight (RFC 9110 §12.5.3: `gzip;q=0` refuses it). */
function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  const weights = new Map<string, number>();
  for (const entry of header.split(',')) {
    const [coding, ...params] = entry.split(';').map((part) => part.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    weights.set(coding!, q === undefined ? 1 : Number(q.slice(2)));
  }
  const weight = weights.get('gzip') ?? weights.get('*');
  return weight !== undefined && weight > 0;
}

export type ServeOpenApiDocument = ReturnType<typeof serveOpenApiDocument>;
