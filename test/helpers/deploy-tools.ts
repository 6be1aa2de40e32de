// The validators of the deployment files (helm, kubeconform and its schemas, hadolint, docker-compose), installed
// by scripts/ensure-deploy-tools.sh into the cache on first use, like the Airflow venv.
import { spawnSync } from 'node:child_process';

export interface DeployTools {
  helm: string;
  kubeconform: string;
  /** The folder of the Kubernetes JSON schemas: `v<version>-local[-strict]/<kind>-<group>-<version>.json`. */
  schemas: string;
  hadolint: string;
  compose: string;
}

/** Slow the first time on a machine (helm is built from source: a few minutes on 2 cores); then instant. */
export const INSTALL_TIMEOUT_MS = 20 * 60_000;

export function ensureDeployTools(): DeployTools {
  const res = spawnSync('sh', ['scripts/ensure-deploy-tools.sh'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (res.status !== 0) throw new Error(`scripts/ensure-deploy-tools.sh failed (exit ${res.status})`);
  const tools = Object.fromEntries(res.stdout.trim().split('\n').map((line) => line.split('=', 2) as [string, string]));
  for (const name of ['helm', 'kubeconform', 'schemas', 'hadolint', 'compose']) {
    if (!tools[name]) throw new Error(`scripts/ensure-deploy-tools.sh named no ${name}`);
  }
  return tools as unknown as DeployTools;
}

/** Runs a tool; its output and exit code, never a throw (the test says what it expected). */
export function runTool(cmd: string, args: readonly string[], input?: string, cwd?: string): { code: number | null; stdout: string; stderr: string } {
  const res = spawnSync(cmd, args, { encoding: 'utf8', input, cwd, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

/** The Kubernetes version the manifests are checked against (its schemas are in `schemas`). */
export const KUBERNETES_VERSION = '1.34.0';
