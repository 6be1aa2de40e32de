// Issue #14 item 4: the Helm chart (deploy/helm/airflow-token-broker) and the plain manifests
// (docker/kubernetes.yaml) checked by helm itself and by kubeconform against the Kubernetes JSON schemas
// (strict: an unknown field is an error), then read for what a production deployment needs.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.js';
import { imageEnv, kubernetesObjects, mountOf, PRODUCTION_SECRETS, theObject, withEnv, type Mount } from '../helpers/deploy-files.js';
import { ensureDeployTools, INSTALL_TIMEOUT_MS, KUBERNETES_VERSION, runTool, type DeployTools } from '../helpers/deploy-tools.js';
import { runCli } from '../helpers/run-cli.js';

const CHART = 'deploy/helm/airflow-token-broker';
/** Every optional part switched on, so that kubeconform sees every template. */
const EVERYTHING = ['--set', 'networkPolicy.enabled=true', '--set', 'secrets.airflowKeys=airflow-token-broker-airflow-keys', '--set', 'serviceAccount.create=true'];

let tools: DeployTools;
beforeAll(() => {
  tools = ensureDeployTools();
}, INSTALL_TIMEOUT_MS);

const render = (...args: string[]) => {
  const res = runTool(tools.helm, ['template', 'atb', CHART, '--namespace', 'airflow-token-broker', ...args]);
  if (res.code !== 0) throw new Error(`helm template failed: ${res.stderr}`);
  return res.stdout;
};

const kubeconform = (manifests: string) =>
  runTool(
    tools.kubeconform,
    ['-strict', '-summary', '-kubernetes-version', KUBERNETES_VERSION, '-schema-location', `${tools.schemas}/{{ .NormalizedKubernetesVersion }}-local{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json`, '-'],
    manifests,
  );

describe('validated by the tools', () => {
  it('helm-lint-passes: helm lint --strict', () => {
    const res = runTool(tools.helm, ['lint', '--strict', CHART]);
    expect(res.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    expect(res.code).toBe(0);
  });

  it.each([
    ['the chart with its defaults', () => render()],
    ['the chart with every option on', () => render(...EVERYTHING)],
    ['docker/kubernetes.yaml', () => readFileSync('docker/kubernetes.yaml', 'utf8')],
  ])('helm-template-passes-kubeconform-strict: %s', (_, manifests) => {
    const text = manifests();
    const res = kubeconform(text);
    expect(res.stdout + res.stderr).toMatch(/Invalid: 0, Errors: 0, Skipped: 0/);
    expect(res.code).toBe(0);
    expect(kubernetesObjects(text).length).toBeGreaterThanOrEqual(3);
  });

  it('kubeconform refuses what Kubernetes would: an unknown field (the check can fail)', () => {
    const broken = render().replace(/^(\s+)terminationGracePeriodSeconds:/m, '$1terminationGraceSeconds:');
    const res = kubeconform(broken);
    expect(res.code).not.toBe(0);
    expect(res.stdout).toMatch(/Deployment .*terminationGraceSeconds/);
  });
});

describe('the rendered chart', () => {
  const objects = () => kubernetesObjects(render(...EVERYTHING));

  it('chart-renders-the-production-example: the config and policy ConfigMaps hold examples/production, which passes config check', async () => {
    const all = objects();
    const config = theObject(all, 'ConfigMap', 'atb-airflow-token-broker-config').data['config.yaml'] as string;
    const policy = theObject(all, 'ConfigMap', 'atb-airflow-token-broker-policy').data['policy.yaml'] as string;
    expect(config).toBe(readFileSync('examples/production/config.yaml', 'utf8'));
    expect(policy).toBe(readFileSync('examples/production/policy.yaml', 'utf8'));
    const dir = mkdtempSync(join(tmpdir(), 'atb-chart-'));
    writeFileSync(join(dir, 'config.yaml'), config);
    writeFileSync(join(dir, 'policy.yaml'), policy);
    const res = await runCli(['config', 'check', '--config', join(dir, 'config.yaml')], { env: PRODUCTION_SECRETS });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
  });

  it('chart-deployment-runs-several-replicas-that-a-disruption-keeps', () => {
    const all = objects();
    const deployment = theObject(all, 'Deployment');
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(2);
    const pdb = theObject(all, 'PodDisruptionBudget');
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(deployment.spec.template.metadata.labels).toEqual(expect.objectContaining(pdb.spec.selector.matchLabels));
    // A rolling update never goes below the replicas it had (a new pod is ready before an old one stops).
    expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
  });

  it('chart-stops-taking-traffic-before-the-process-stops: preStop wait, then the drain, within the grace period', () => {
    const all = objects();
    const spec = theObject(all, 'Deployment').spec.template.spec;
    const broker = (spec.containers as any[]).find((c) => c.name === 'broker');
    const { config } = withEnv(PRODUCTION_SECRETS, () => loadConfig(writeRendered(all), imageEnv()));
    // Endpoints drop a terminating pod a moment after the kubelet signals it: wait before SIGTERM so that no new
    // connection meets a closed port, then the broker's own drain (server.shutdown_grace), all before SIGKILL.
    const [cmd, seconds] = broker.lifecycle.preStop.exec.command as [string, string];
    expect(cmd).toBe('sleep');
    expect(Number(seconds)).toBeGreaterThanOrEqual(3);
    expect(Number(seconds) * 1000 + config.server.shutdown_grace).toBeLessThan(spec.terminationGracePeriodSeconds * 1000);
  });

  it('chart-probes-on-the-ops-listener-which-the-service-does-not-expose', () => {
    const all = objects();
    const pod = theObject(all, 'Deployment').spec.template;
    const broker = (pod.spec.containers as any[]).find((c) => c.name === 'broker');
    const ops = (broker.ports as any[]).find((p) => p.name === 'ops');
    const { config } = withEnv(PRODUCTION_SECRETS, () => loadConfig(writeRendered(all), imageEnv()));
    expect(ops.containerPort).toBe(config.server.ops.port);
    expect(config.server.ops.host).toBe('0.0.0.0');
    expect(broker.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'ops' });
    expect(broker.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'ops' });
    const service = theObject(all, 'Service');
    expect((service.spec.ports as any[]).map((p) => p.targetPort)).toEqual(['http']);
    expect((broker.ports as any[]).find((p) => p.name === 'http').containerPort).toBe(config.server.port);
    // The NetworkPolicy lets anyone reach the public port, the ops port only from the monitoring namespace.
    const policy = theObject(all, 'NetworkPolicy');
    const ingress = policy.spec.ingress as any[];
    expect(ingress.find((r) => r.ports.some((p: any) => p.port === 'http')).from).toBeUndefined();
    expect(ingress.find((r) => r.ports.some((p: any) => p.port === 'ops')).from).toEqual([expect.objectContaining({ namespaceSelector: expect.any(Object) })]);
  });

  it('chart-keys-from-a-secret-reach-the-keys-folder-owner-only', () => {
    const all = objects();
    const spec = theObject(all, 'Deployment').spec.template.spec;
    const { paths } = withEnv(PRODUCTION_SECRETS, () => loadConfig(writeRendered(all), imageEnv()));
    const volumes = new Map((spec.volumes as any[]).map((v) => [v.name, v]));
    const mountsOf = (c: any): Array<Mount & { name: string }> => (c.volumeMounts as any[]).map((m) => ({ name: m.name, path: m.mountPath, readOnly: m.readOnly === true }));
    const copy = (spec.initContainers as any[]).find((c) => c.name === 'copy-keys');
    const broker = (spec.containers as any[]).find((c) => c.name === 'broker');
    // The broker's keys folder is a pod-local volume the init container fills from the Secrets.
    const keysMount = mountOf(paths.keysDir, mountsOf(broker)) as Mount & { name: string };
    expect(volumes.get(keysMount.name).emptyDir).toBeDefined();
    expect(mountsOf(copy).find((m) => m.name === keysMount.name)?.path).toBe(keysMount.path);
    const secrets = mountsOf(copy).filter((m) => volumes.get(m.name).secret);
    expect(secrets.map((m) => volumes.get(m.name).secret.secretName).sort()).toEqual(['airflow-token-broker-airflow-keys', 'airflow-token-broker-keys']);
    expect(secrets.every((m) => m.readOnly)).toBe(true);
    // Owner-only copies (the broker refuses a key file others can read), the Airflow set in its own folder.
    const script = copy.command.join(' ');
    expect(script).toMatch(/install -m 0600/);
    expect(script).toContain(paths.airflowKeysDir);
    expect(theObject(all, 'ConfigMap', 'atb-airflow-token-broker-config').data['config.yaml']).toMatch(/generate_if_missing: false/);
  });

  it('chart-pods-run-non-root-on-a-read-only-root-with-resource-requests', () => {
    const spec = theObject(objects(), 'Deployment').spec.template.spec;
    expect(spec.securityContext).toEqual(expect.objectContaining({ runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000 }));
    expect(spec.automountServiceAccountToken).toBe(false);
    for (const c of [...spec.initContainers, ...spec.containers] as any[]) {
      expect(c.securityContext).toEqual(expect.objectContaining({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } }));
      expect(c.resources.requests).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
      expect(c.resources.limits.memory).toEqual(expect.any(String));
    }
  });

  it('chart-restarts-pods-when-the-config-changes-not-when-the-policy-does', () => {
    const dir = mkdtempSync(join(tmpdir(), 'atb-values-'));
    const edited = (name: string) => {
      writeFileSync(join(dir, name), `${readFileSync(`examples/production/${name}`, 'utf8')}# edited\n`);
      return join(dir, name);
    };
    const annotation = (args: string[]) => theObject(kubernetesObjects(render(...args)), 'Deployment').spec.template.metadata.annotations['checksum/config'];
    expect(annotation(['--set-file', `config=${edited('config.yaml')}`])).not.toBe(annotation([]));
    // The policy is reloaded live from its mounted ConfigMap (policy_watch): no restart for it.
    expect(annotation(['--set-file', `policy=${edited('policy.yaml')}`])).toBe(annotation([]));
  });

  it('chart-refuses-values-it-cannot-run-with', () => {
    const dir = mkdtempSync(join(tmpdir(), 'atb-values-'));
    const production = readFileSync('examples/production/config.yaml', 'utf8');
    const refused = (args: string[]) => runTool(tools.helm, ['template', 'atb', CHART, ...args]);
    // A replica allowed to make its own key would sign tokens the other replicas refuse.
    writeFileSync(join(dir, 'own-keys.yaml'), production.replace('generate_if_missing: false', 'generate_if_missing: true'));
    writeFileSync(join(dir, 'no-keys-key.yaml'), production.replace(/^keys:\n(  .*\n)+/m, ''));
    for (const file of ['own-keys.yaml', 'no-keys-key.yaml']) {
      const res = refused(['--set-file', `config=${join(dir, file)}`]);
      expect({ file, code: res.code, stderr: res.stderr }).toEqual({ file, code: 1, stderr: expect.stringContaining('set keys.generate_if_missing: false') });
    }
    expect(refused(['--set', 'secrets.keys=']).stderr).toMatch(/secrets\/keys.*minLength/);
    expect(refused(['--set', 'replicaCount=0']).stderr).toMatch(/replicaCount.*minimum/);
    expect(refused(['--set', 'config=']).code).toBe(1);
  });
});

/** Writes the rendered config and policy to a folder and returns the config's path. */
function writeRendered(all: Array<Record<string, any>>): string {
  const dir = mkdtempSync(join(tmpdir(), 'atb-chart-'));
  writeFileSync(join(dir, 'config.yaml'), theObject(all, 'ConfigMap', 'atb-airflow-token-broker-config').data['config.yaml']);
  writeFileSync(join(dir, 'policy.yaml'), theObject(all, 'ConfigMap', 'atb-airflow-token-broker-policy').data['policy.yaml']);
  return join(dir, 'config.yaml');
}
