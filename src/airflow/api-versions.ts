import type { Operation } from './catalog/operation.js';
import { RouteCatalog } from './catalog/route-catalog.js';
import { airflowV1Operations } from './catalog/v1-operations.js';
import { airflowV2Operations } from './catalog/v2-operations.js';

/** How an API version pages a list the caller did not bound. */
export interface ListPaging {
  /** Airflow's page size without `limit` (`[api] fallback_page_limit`: 50 in Airflow 3, 100 in Airflow 2). */
  defaultLimit: number;
  /** Airflow 2 reads `limit=0` as "the default page size", Airflow 3 as zero items. */
  zeroLimitIsDefault: boolean;
}

/**
 * An Airflow REST API version the proxy fronts: where it is mounted, its operation catalog and how it pages
 * lists. Airflow 3's `/api/v2` and Airflow 2's `/api/v1`; nothing else in the proxy names a version.
 */
export interface ApiVersion {
  name: 'v1' | 'v2';
  /** Path segments of the API root below a deployment, e.g. `['api', 'v2']`. */
  rootSegments: readonly string[];
  /** The same as a path prefix, e.g. `/api/v2`. */
  root: string;
  /** Airflow's health endpoint below the deployment's URL, public (no credentials): the reachability probe. */
  health: string;
  /** The operations `catalog` routes (`v1-operations.ts`, `v2-operations.ts`). */
  operations: readonly Operation[];
  catalog: RouteCatalog;
  paging: ListPaging;
  openApi: OpenApiSource;
}

/** Where a deployment serves its own OpenAPI document (public in both lines), and how its `paths` are written. */
export interface OpenApiSource {
  /** Below the deployment's URL, e.g. `/openapi.json`. */
  path: string;
  format: 'json' | 'yaml';
  /** True when the document's paths are relative to the API root (Airflow 2: `/dags`, server `/api/v1`). */
  pathsBelowRoot: boolean;
}

/** A version from what differs between them; its root and route catalog follow from its name and operations. */
function apiVersion(name: ApiVersion['name'], operations: readonly Operation[], rest: Pick<ApiVersion, 'health' | 'paging' | 'openApi'>): ApiVersion {
  return { name, rootSegments: ['api', name], root: `/api/${name}`, operations, catalog: new RouteCatalog(operations), ...rest };
}

const v1 = apiVersion('v1', airflowV1Operations, {
  health: '/api/v1/health',
  paging: { defaultLimit: 100, zeroLimitIsDefault: true },
  // Connexion's copy of `api_connexion/openapi/v1.yaml`, served without authentication.
  openApi: { path: '/api/v1/openapi.yaml', format: 'yaml', pathsBelowRoot: true },
});

const v2 = apiVersion('v2', airflowV2Operations, {
  health: '/api/v2/monitor/health',
  paging: { defaultLimit: 50, zeroLimitIsDefault: false },
  // FastAPI's document of the public API (the `/ui` routes are left out of it), served without authentication.
  openApi: { path: '/openapi.json', format: 'json', pathsBelowRoot: false },
});

export const apiVersions = { v1, v2 } as const;
export type ApiVersionName = keyof typeof apiVersions;

/**
 * The API version whose root begins `segments` (raw path segments below a deployment, e.g. `['api', 'v1',
 * 'dags']`) and the path below that root (`/dags`; `''` for the root itself), or undefined when no version's
 * root begins them. The proxy and `explain` both route with this.
 */
export function routeApiPath(segments: readonly string[]): { api: ApiVersion; apiPath: string } | undefined {
  for (const api of Object.values(apiVersions)) {
    const root = api.rootSegments;
    if (segments.length >= root.length && root.every((segment, i) => segments[i] === segment)) {
      const below = segments.slice(root.length);
      return { api, apiPath: below.length ? `/${below.join('/')}` : '' };
    }
  }
  return undefined;
}
