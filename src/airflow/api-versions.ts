import { RouteCatalog } from './catalog/route-catalog.js';
import { airflowV2Operations } from './catalog/v2-operations.js';

/**
 * An Airflow REST API version the proxy fronts: where it is mounted and its operation catalog. Airflow 2's
 * `/api/v1` becomes a second entry with its own table; nothing else in the proxy names a version.
 */
export interface ApiVersion {
  name: 'v2';
  /** Path segments of the API root below a deployment, e.g. `['api', 'v2']`. */
  rootSegments: readonly string[];
  /** The same as a path prefix, e.g. `/api/v2`. */
  root: string;
  /** Airflow's health endpoint below the deployment's URL, public (no credentials): the reachability probe. */
  health: string;
  catalog: RouteCatalog;
}

const v2: ApiVersion = { name: 'v2', rootSegments: ['api', 'v2'], root: '/api/v2', health: '/api/v2/monitor/health', catalog: new RouteCatalog(airflowV2Operations) };

export const apiVersions = { v2 } as const;
export type ApiVersionName = keyof typeof apiVersions;
