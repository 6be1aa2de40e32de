import { fabAuthOperations } from './catalog/fab-auth-operations.js';
import type { Operation } from './catalog/operation.js';
import { RouteCatalog } from './catalog/route-catalog.js';
import { airflowV1Operations } from './catalog/v1-operations.js';
import { airflowV2Operations } from './catalog/v2-operations.js';

/** How an API pages a list the caller did not bound. */
export interface ListPaging {
  /** Airflow's page size without `limit` (`[api] fallback_page_limit`: 50 in Airflow 3, 100 in Airflow 2 and FAB's API). */
  defaultLimit: number;
  /**
   * The page size `limit=0` asks for: zero items in Airflow 3, the default page size in Airflow 2, and
   * `[api] fallback_page_limit` (50) in FAB's API, whose own default is 100.
   */
  zeroLimit: number;
}

/**
 * One REST API the proxy forwards below a deployment: where it is mounted, its operation catalog and how it pages
 * lists. A deployment's API version (`/api/v2`, `/api/v1`) is one; FAB's user management (`/auth/fab/v1`) is
 * another, served beside `/api/v2`.
 */
export interface ApiSurface {
  /** `v1`, `v2`, or `fab` (FAB's `/auth/fab/v1`). */
  name: string;
  /** Path segments of the API root below a deployment, e.g. `['api', 'v2']`. */
  rootSegments: readonly string[];
  /** The same as a path prefix, e.g. `/api/v2`. */
  root: string;
  /** The operations `catalog` routes (`v1-operations.ts`, `v2-operations.ts`, `fab-auth-operations.ts`). */
  operations: readonly Operation[];
  catalog: RouteCatalog;
  paging: ListPaging;
  /**
   * `refuse` (the API versions): a path the catalog does not know is authenticated and refused as
   * `unknown-operation`. `not-found` (FAB's API): it is 404 before any token is read, as every other `/auth` path
   * is, so FAB's password login, logout and pages are never reached.
   */
  unknownPaths: 'refuse' | 'not-found';
}

/**
 * An Airflow REST API version the proxy fronts: Airflow 3's `/api/v2` and Airflow 2's `/api/v1`; nothing else in
 * the proxy names a version.
 */
export interface ApiVersion extends ApiSurface {
  name: 'v1' | 'v2';
  /** Airflow's health endpoint below the deployment's URL, public (no credentials): the reachability probe. */
  health: string;
  openApi: OpenApiSource;
  /** The other APIs an Airflow of this version serves that the proxy forwards too (policy-checked like the version's own). */
  alongside: readonly ApiSurface[];
}

/** Where a deployment serves its own OpenAPI document (public in both lines), and how its `paths` are written. */
export interface OpenApiSource {
  /** Below the deployment's URL, e.g. `/openapi.json`. */
  path: string;
  format: 'json' | 'yaml';
  /** True when the document's paths are relative to the API root (Airflow 2: `/dags`, server `/api/v1`). */
  pathsBelowRoot: boolean;
}

/** A surface from its root segments and operations; its root and route catalog follow from them. */
function apiSurface(name: string, rootSegments: readonly string[], operations: readonly Operation[], paging: ListPaging, unknownPaths: ApiSurface['unknownPaths']): ApiSurface {
  return { name, rootSegments, root: `/${rootSegments.join('/')}`, operations, catalog: new RouteCatalog(operations), paging, unknownPaths };
}

/** A version from what differs between them; its root and route catalog follow from its name and operations. */
function apiVersion(name: ApiVersion['name'], operations: readonly Operation[], rest: Pick<ApiVersion, 'health' | 'paging' | 'openApi'> & Partial<Pick<ApiVersion, 'alongside'>>): ApiVersion {
  return { ...apiSurface(name, ['api', name], operations, rest.paging, 'refuse'), name, alongside: [], ...rest };
}

/**
 * FAB's user management on Airflow 3 (`apache-airflow-providers-fab` as the auth manager): users, roles and
 * permissions. Its routes take `limit` (default 100) and `offset`; `limit=0` means `[api] fallback_page_limit`.
 */
export const fabAuthApi = apiSurface('fab', ['auth', 'fab', 'v1'], fabAuthOperations, { defaultLimit: 100, zeroLimit: 50 }, 'not-found');

const v1 = apiVersion('v1', airflowV1Operations, {
  health: '/api/v1/health',
  paging: { defaultLimit: 100, zeroLimit: 100 },
  // Connexion's copy of `api_connexion/openapi/v1.yaml`, served without authentication.
  openApi: { path: '/api/v1/openapi.yaml', format: 'yaml', pathsBelowRoot: true },
});

const v2 = apiVersion('v2', airflowV2Operations, {
  health: '/api/v2/monitor/health',
  paging: { defaultLimit: 50, zeroLimit: 0 },
  // FastAPI's document of the public API (the `/ui` routes are left out of it), served without authentication.
  openApi: { path: '/openapi.json', format: 'json', pathsBelowRoot: false },
  // Only `/auth/fab/v1` of everything Airflow 3 mounts below `/auth`: never `/auth/token` or `/auth/logout`.
  alongside: [fabAuthApi],
});

export const apiVersions = { v1, v2 } as const;
export type ApiVersionName = keyof typeof apiVersions;

/** A path routed to one API: the version a deployment must serve for it, the API itself, and the path below its root. */
export interface RoutedApiPath {
  /** The version the surface belongs to: a deployment of another version answers 404. */
  api: ApiVersion;
  /** The API the path is below: `api` itself or one of its `alongside` (FAB's `/auth/fab/v1` for v2). */
  surface: ApiSurface;
  /** Below the surface's root, e.g. `/dags`; `''` for the root itself. */
  apiPath: string;
}

/**
 * The API whose root begins `segments` (raw path segments below a deployment, e.g. `['api', 'v1', 'dags']` or
 * `['auth', 'fab', 'v1', 'users']`), or undefined when no API's root begins them (`/auth/token`, `/auth/logout`,
 * `/ui/...`). Roots are compared segment by segment on the raw bytes: `/auth/fab%2Fv1` or `/Auth/fab/v1` begin
 * none. The proxy and `explain` both route with this.
 */
export function routeApiPath(segments: readonly string[]): RoutedApiPath | undefined {
  for (const routed of ROUTED_SURFACES) {
    const root = routed.surface.rootSegments;
    if (segments.length < root.length || !startsWith(segments, root)) continue;
    return { api: routed.api, surface: routed.surface, apiPath: segments.length > root.length ? `/${segments.slice(root.length).join('/')}` : '' };
  }
  return undefined;
}

/** Every surface with the version it belongs to, in routing order: listed once, not per request. */
const ROUTED_SURFACES: ReadonlyArray<{ api: ApiVersion; surface: ApiSurface }> = Object.values(apiVersions).flatMap((api) =>
  [api, ...api.alongside].map((surface) => ({ api, surface })),
);

function startsWith(segments: readonly string[], root: readonly string[]): boolean {
  for (let i = 0; i < root.length; i++) if (segments[i] !== root[i]) return false;
  return true;
}
