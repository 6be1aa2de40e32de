import type { ServerMetadata } from 'openid-client';
import type { DeploymentMetadata } from '../broker/deployment-metadata.js';
import { CliExit, EXIT } from './exit-codes.js';

/**
 * The deployment a command is for, from the broker's metadata: `--deployment`, else the broker's default
 * deployment, else its only one. Unknown or unnamed: exit 2, listing what the broker proxies.
 */
export function pickDeployment(metadata: ServerMetadata, wanted: string | undefined): { name: string; deployment: DeploymentMetadata } {
  const deployments = metadata.airflow_deployments as Record<string, DeploymentMetadata> | undefined;
  const names = Object.keys(deployments ?? {});
  const name = wanted ?? (metadata.default_airflow_deployment as string | undefined) ?? (names.length === 1 ? names[0] : undefined);
  const listed = names.length ? names.join(', ') : 'none';
  if (name === undefined) throw new CliExit(EXIT.badInput, `name the deployment with --deployment (this broker proxies: ${listed})`);
  const deployment = deployments?.[name];
  if (!deployment) throw new CliExit(EXIT.badInput, `--deployment: the broker proxies no deployment "${name}" (it proxies: ${listed})`);
  return { name, deployment };
}
