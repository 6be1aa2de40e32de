// Issue #14 item 5: the shipped container files must run with their defaults. Each test reads a file as an
// operator's tool does (the image's ENV, compose's volumes, the Kubernetes objects) and checks it against what
// the broker does with a config that leaves the defaults alone.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative } from 'node:path';
import { loadConfig, type LoadedConfig } from '../../src/config/load-config.js';
import {
  composeMounts,
  containerConfigPath,
  deploymentMounts,
  imageEnv,
  kubernetesObjects,
  mountOf,
  theObject,
  type Mount,
} from '../helpers/deploy-files.js';

/** A config that sets nothing the container defaults decide (as an operator's first one does). */
const MINIMAL = [
  'issuer: https://broker.example.com',
  'policy_file: ./policy.yaml',
  'directories:',
  '  corp: { issuer: https://login.example.com/realms/corp }',
  'upstreams:',
  '  prod: { audience: https://broker.example.com/airflow/prod }',
  '',
].join('\n');

/**
 * Loads `text` as the container would: written to a folder standing for the config's folder in the image, with
 * the image's environment; paths in that folder are mapped back to where they are in the container.
 */
function loadInContainer(text: string, env: Record<string, string> = imageEnv()): { loaded: LoadedConfig; inContainer: (p: string) => string } {
  const configPath = containerConfigPath(env);
  const base = join(mkdtempSync(join(tmpdir(), 'atb-container-')), 'config');
  mkdirSync(base);
  writeFileSync(join(base, posix.basename(configPath)), text);
  const loaded = loadConfig(join(base, posix.basename(configPath)), env);
  const inContainer = (p: string) => (p.startsWith(`${base}/`) ? posix.join(posix.dirname(configPath), relative(base, p)) : p);
  return { loaded, inContainer };
}

const kubernetes = () => kubernetesObjects(readFileSync('docker/kubernetes.yaml', 'utf8'));

/** What a path the broker writes must be in: a mount the container may write to, never the config's. */
function expectWritableVolume(path: string, mounts: readonly Mount[], configPath: string): void {
  const mount = mountOf(path, mounts);
  expect({ path, mount }).toEqual({ path, mount: { path: expect.any(String), readOnly: false } });
  expect(mountOf(path, mounts)).not.toEqual(mountOf(configPath, mounts));
}

describe('container defaults (docker/Dockerfile, compose.yaml, kubernetes.yaml)', () => {
  it('container-listens-beyond-loopback: the image makes both listeners reachable from outside the container', () => {
    const { loaded } = loadInContainer(MINIMAL);
    // 127.0.0.1 inside a container is the container's own loopback: neither the kubelet nor a Service reaches it.
    expect(loaded.config.server.host).toBe('0.0.0.0');
    expect(loaded.config.server.ops.host).toBe('0.0.0.0');
  });

  it('outside a container the defaults stay on loopback', () => {
    const dir = mkdtempSync(join(tmpdir(), 'atb-host-'));
    writeFileSync(join(dir, 'config.yaml'), MINIMAL);
    const loaded = loadConfig(join(dir, 'config.yaml'), {});
    expect([loaded.config.server.host, loaded.config.server.ops.host]).toEqual(['127.0.0.1', '127.0.0.1']);
    expect(loaded.paths.keysDir).toBe(join(dir, 'keys'));
    expect(loaded.paths.revocationDb).toBe(join(dir, 'data/revocations.sqlite'));
  });

  it('what the file says wins over the image defaults', () => {
    const { loaded, inContainer } = loadInContainer(
      `${MINIMAL}server: { host: 10.0.0.7, ops: { host: 127.0.0.1 } }\nkeys: { dir: ./keys }\nrevocation: { sqlite_path: /srv/revocations.sqlite }\n`,
    );
    expect([loaded.config.server.host, loaded.config.server.ops.host]).toEqual(['10.0.0.7', '127.0.0.1']);
    expect(inContainer(loaded.paths.keysDir)).toBe(posix.join(posix.dirname(containerConfigPath(imageEnv())), 'keys'));
    expect(loaded.paths.revocationDb).toBe('/srv/revocations.sqlite');
  });

  it('a malformed file is reported as it is, the image defaults add nothing to it', () => {
    // `server` a scalar, `keys` a list: validation names them, as without the image's environment.
    for (const bad of [`${MINIMAL}server: 8400\n`, `${MINIMAL}keys: [a]\n`, `${MINIMAL}server: {host: [\n`]) {
      const problems = (env: Record<string, string>) => {
        try {
          loadInContainer(bad, env);
          return 'loaded';
        } catch (err) {
          return (err as Error).message.split('\n').slice(1).join('\n').replace(/^\S*config\.yaml:/gm, 'config.yaml:');
        }
      };
      expect(problems(imageEnv())).toMatch(/error: /);
      expect(problems(imageEnv())).toBe(problems({ AIRFLOW_TOKEN_BROKER_CONFIG: imageEnv().AIRFLOW_TOKEN_BROKER_CONFIG! }));
    }
  });

  it('container-keys-and-data-on-the-volumes: compose mounts the key and data paths writable, not in the read-only config mount', () => {
    const { loaded, inContainer } = loadInContainer(MINIMAL);
    const configPath = containerConfigPath(imageEnv());
    const mounts = composeMounts();
    expect(mountOf(configPath, mounts)?.readOnly).toBe(true);
    for (const path of [loaded.paths.keysDir, loaded.paths.airflowKeysDir, loaded.paths.revocationDb]) {
      expectWritableVolume(inContainer(path), mounts, configPath);
    }
  });

  it('container-keys-and-data-on-the-volumes: the Kubernetes Deployment mounts them too', () => {
    const { loaded, inContainer } = loadInContainer(MINIMAL);
    const configPath = containerConfigPath(imageEnv());
    const mounts = deploymentMounts(theObject(kubernetes(), 'Deployment'));
    expect(mountOf(configPath, mounts)?.readOnly).toBe(true);
    for (const path of [loaded.paths.keysDir, loaded.paths.revocationDb]) expectWritableVolume(inContainer(path), mounts, configPath);
  });

  it('ops-listener-reachable-by-kubelet-not-by-service: probes and the scrape port reach a listener, the Service exposes only the public one', () => {
    const { loaded } = loadInContainer(MINIMAL);
    const { server } = loaded.config;
    const objects = kubernetes();
    const pod = theObject(objects, 'Deployment').spec.template;
    const container = (pod.spec.containers as any[]).find((c) => c.name === 'broker');
    const portNumber = (p: string | number) => (typeof p === 'number' ? p : (container.ports as any[]).find((x) => x.name === p).containerPort);
    // A port the kubelet (probes) or Prometheus (pod IP) can reach: one the broker listens on beyond loopback.
    const reachable = new Set([server.port, server.ops.port].filter((_, i) => [server.host, server.ops.host][i] !== '127.0.0.1'));
    for (const probe of [container.readinessProbe, container.livenessProbe]) expect(reachable).toContain(portNumber(probe.httpGet.port));
    // Probes on the ops listener: its /readyz is the one with details, its /healthz reads nothing.
    expect(portNumber(container.readinessProbe.httpGet.port)).toBe(server.ops.port);
    if (pod.metadata.annotations?.['prometheus.io/port']) expect(reachable).toContain(Number(pod.metadata.annotations['prometheus.io/port']));
    const service = theObject(objects, 'Service');
    const exposed = (service.spec.ports as any[]).map((p) => portNumber(p.targetPort));
    expect(exposed).toEqual([server.port]);
  });

  it('the image healthcheck asks a port the broker listens on', () => {
    const { loaded } = loadInContainer(MINIMAL);
    const check = /HEALTHCHECK.*http:\/\/([\d.]+):(\d+)\//.exec(readFileSync('docker/Dockerfile', 'utf8'));
    expect(check).not.toBeNull();
    expect(Number(check![2])).toBe(loaded.config.server.port);
  });
});

describe('image layout', () => {
  it('the volumes the image prepares are the default key and data folders', () => {
    const { loaded, inContainer } = loadInContainer(MINIMAL);
    const dockerfile = readFileSync('docker/Dockerfile', 'utf8');
    const prepared = /RUN mkdir -p ([^&\n]+)/.exec(dockerfile)![1]!.trim().split(/\s+/);
    expect(prepared).toEqual(expect.arrayContaining([inContainer(loaded.paths.keysDir), inContainer(dirname(loaded.paths.revocationDb))]));
  });
});
