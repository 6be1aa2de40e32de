import type { Operation } from '../airflow/catalog/operation.js';

/** An OpenAPI 3.x document as far as the proxy reads it; everything else is passed on as Airflow wrote it. */
export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
  servers?: unknown[];
  security?: unknown[];
  components?: Record<string, unknown>;
  [key: string]: unknown;
}

/** How the proxy exposes one deployment's API. */
export interface OpenApiExposure {
  /** Where the proxy serves the deployment, e.g. `https://broker.example/airflow/prod`. */
  deploymentUrl: string;
  /** The broker's token endpoint, `<issuer>/oauth2/token`. */
  tokenUrl: string;
  /** The API root below the deployment, e.g. `/api/v2`. */
  apiRoot: string;
  /** True when Airflow's paths are relative to the API root (Airflow 2's `/dags`), false when they carry it. */
  pathsBelowRoot: boolean;
  /** The operations the proxy routes (the API version's catalog). */
  operations: readonly Operation[];
  /** Which routed operations to document: all of them for a reader without a token. */
  include: (operation: Operation) => boolean;
}

/** The proxy's security schemes: they replace Airflow's, whose login (`/auth/token`, Basic, Kerberos) is not proxied. */
const PROXY_SECURITY_SCHEMES = ['OAuth2', 'Bearer'] as const;
const PROXY_SECURITY = PROXY_SECURITY_SCHEMES.map((name) => ({ [name]: [] }));

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** The catalog's `public: true`: the proxy serves it without a token (health, version), so it needs no security. */
const servedWithoutToken = (operation: Operation): boolean => operation.access === 'public' && operation.public === true;

/**
 * Airflow's OpenAPI document as the proxy exposes it, for client generators: the paths it documents that the
 * catalog routes and `include` keeps (an operation the catalog does not know cannot be called through the proxy),
 * `servers` pointing at the deployment through the proxy, and the proxy's security schemes instead of Airflow's.
 * Pure; `airflow` is shared between requests and never changed: kept parts are copied shallowly.
 */
export function exposeOpenApiDocument(airflow: OpenApiDocument, exposure: OpenApiExposure): OpenApiDocument {
  const routed = new Map(exposure.operations.filter((op) => op.access !== 'never').map((op) => [`${op.method} ${op.template}`, op]));
  const paths: OpenApiDocument['paths'] = {};
  for (const [path, item] of Object.entries(airflow.paths)) {
    const template = exposure.pathsBelowRoot ? path : below(path, exposure.apiRoot);
    if (template === undefined) continue;
    const kept: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(item)) {
      if (!HTTP_METHODS.includes(key)) {
        if (key !== 'servers') kept[key] = value; // a server of its own would bypass the proxy
        continue;
      }
      const operation = routed.get(`${key.toUpperCase()} ${template}`);
      if (operation && exposure.include(operation)) kept[key] = exposedOperation(value as Record<string, unknown>, operation);
    }
    if (Object.keys(kept).some((key) => HTTP_METHODS.includes(key))) paths[path] = kept;
  }
  return {
    ...airflow,
    servers: [{ url: exposure.deploymentUrl + (exposure.pathsBelowRoot ? exposure.apiRoot : ''), description: 'Airflow through airflow-token-broker' }],
    security: PROXY_SECURITY,
    paths,
    components: { ...airflow.components, securitySchemes: securitySchemes(exposure.tokenUrl) },
  };
}

function below(path: string, root: string): string | undefined {
  return path.startsWith(root + '/') ? path.slice(root.length) : undefined;
}

function exposedOperation(airflowOperation: Record<string, unknown>, operation: Operation): Record<string, unknown> {
  const { security: _airflows, servers: _bypass, ...rest } = airflowOperation;
  return servedWithoutToken(operation) ? { ...rest, security: [] } : rest;
}

function securitySchemes(tokenUrl: string): Record<string, unknown> {
  return {
    OAuth2: {
      type: 'oauth2',
      description:
        'An access token of airflow-token-broker (client credentials grant). Scopes are the broker\'s role names, listed in its ' +
        'authorization server metadata (`/.well-known/oauth-authorization-server`).',
      flows: { clientCredentials: { tokenUrl, scopes: {} } },
    },
    Bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token of airflow-token-broker for this deployment.' },
  };
}
