// The shipped deployment files read as an operator's tools read them: the Dockerfile's final stage, the compose
// service and the Kubernetes objects, so that tests can check that they agree with what the broker does.
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

/** The `ENV` of the Dockerfile's last stage (what the running container sees), `KEY=value` pairs only. */
export function imageEnv(file = 'docker/Dockerfile'): Record<string, string> {
  const stages = readFileSync(file, 'utf8').split(/^FROM\s/m);
  const env: Record<string, string> = {};
  for (const line of stages.at(-1)!.split('\n')) {
    const m = /^ENV\s+(.+)$/.exec(line.trim());
    if (!m) continue;
    for (const pair of m[1]!.match(/[A-Za-z_][A-Za-z0-9_]*=("[^"]*"|\S+)/g) ?? []) {
      const at = pair.indexOf('=');
      env[pair.slice(0, at)] = pair.slice(at + 1).replace(/^"(.*)"$/, '$1');
    }
  }
  return env;
}

/** A volume as mounted in the container: its path inside and whether the container may write to it. */
export interface Mount {
  path: string;
  readOnly: boolean;
}

/** The mounts of compose.yaml's `broker` service (short syntax `source:target[:ro]`). */
export function composeMounts(file = 'docker/compose.yaml'): Mount[] {
  const compose = parse(readFileSync(file, 'utf8')) as { services: { broker: { volumes: string[] } } };
  return compose.services.broker.volumes.map((v) => {
    const [, target, mode] = v.split(':');
    return { path: target!, readOnly: mode === 'ro' };
  });
}

/** Every object of a multi-document Kubernetes YAML (rendered chart or plain manifests). */
export function kubernetesObjects(text: string): Array<Record<string, any>> {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Record<string, any> | null)
    .filter((o): o is Record<string, any> => o !== null && typeof o === 'object');
}

/** The one object of a kind (and, when given, a name); throws when there is none or several. */
export function theObject(objects: Array<Record<string, any>>, kind: string, name?: string): Record<string, any> {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0]!;
}

/** The mounts of a Deployment's container named `container`. */
export function deploymentMounts(deployment: Record<string, any>, container = 'broker'): Mount[] {
  const c = (deployment.spec.template.spec.containers as any[]).find((x) => x.name === container);
  return (c.volumeMounts as any[]).map((m) => ({ path: m.mountPath as string, readOnly: m.readOnly === true }));
}

/** The mount a path lives in (the longest mount path that contains it), or undefined: the image's own layer. */
export function mountOf(path: string, mounts: readonly Mount[]): Mount | undefined {
  return mounts
    .filter((m) => path === m.path || path.startsWith(m.path.endsWith('/') ? m.path : `${m.path}/`))
    .sort((a, b) => b.path.length - a.path.length)[0];
}

/** Where the config file sits in the container: the image's `AIRFLOW_TOKEN_BROKER_CONFIG`. */
export function containerConfigPath(env: Record<string, string>): string {
  const path = env.AIRFLOW_TOKEN_BROKER_CONFIG;
  if (!path || !posix.isAbsolute(path)) throw new Error('the image names no absolute AIRFLOW_TOKEN_BROKER_CONFIG');
  return path;
}

/** The secrets examples/production/config.yaml references, as the Kubernetes Secret would give them. */
export const PRODUCTION_SECRETS = {
  REDIS_URL: 'redis://:redis-password@redis.airflow-token-broker.svc:6379/0',
  AIRFLOW_PROXY_PASSWORD: 'proxy-password',
  LOGIN_CLIENT_SECRET: 'console-secret',
};

/** Runs `fn` with `vars` in process.env (secret references are read from there at load time), then restores it. */
export function withEnv<T>(vars: Record<string, string>, fn: () => T): T {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
