import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { createOpsApp, createRequestListener } from '../../src/app.js';
import { localOps } from '../../src/http/ops-router.js';
import { loadConfig } from '../../src/config/load-config.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { MemoryAuditLog } from '../../src/observability/audit-log.js';
import { createLogger } from '../../src/observability/logger.js';
import { createServices, type ServiceOverrides, type Services } from '../../src/services.js';
import { DEV_DIRECTORY_AUDIENCE, startDevDirectory, type DevDirectory } from '../../scripts/dev-directory.js';

export const EXAMPLE_POLICY = resolve('examples/policy.yaml');
export const PROD_AUDIENCE = 'https://airflow.prod.example';
export const STAGING_AUDIENCE = 'https://airflow.staging.example';

/**
 * The `prod` upstream entry for a real test Airflow, reached with the proxy's service account (`proxy`, the fixed
 * user of scripts/airflow/start.sh; its password read from the environment, as a real config would). `extra`
 * adds to it (e.g. `cors`).
 */
export function serviceAccountUpstream(url: string, extra: Partial<ConfigInput['upstreams'][string]> = {}): ConfigInput['upstreams'][string] {
  process.env.ATB_TEST_AIRFLOW_PASSWORD = 'proxy-pass';
  return {
    audience: PROD_AUDIENCE,
    url,
    credentials: { mode: 'service-account', username: 'proxy', password: '${ATB_TEST_AIRFLOW_PASSWORD}' },
    ...extra,
  };
}

export interface Broker {
  url: string;
  /** The ops listener (`/healthz`, `/readyz` with details, `/metrics`), as `server.ops` serves it. */
  opsUrl: string;
  dir: string;
  server: Server;
  services: Services;
  audit: MemoryAuditLog;
  close(): Promise<void>;
}

/** A TLS certificate and its key (PEM) for {@link startBroker}'s `https` option, e.g. from `selfSignedCertificate`. */
export interface BrokerTls {
  key: string;
  cert: string;
}

/**
 * Starts the broker on loopback with a real config file; `configure` may change any option. With `https` it is
 * served over TLS as `https://localhost:<port>` (another site than `127.0.0.1` for a browser), else on
 * `http://127.0.0.1:<port>`.
 */
export async function startBroker(
  directory: DevDirectory | { issuer: string },
  options: { policyFile?: string; configure?: (c: ConfigInput) => void; overrides?: ServiceOverrides; dir?: string; https?: BrokerTls } = {},
): Promise<Broker> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'atb-test-'));
  const server: Server = options.https ? createHttpsServer(options.https) : createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `${options.https ? 'https://localhost' : 'http://127.0.0.1'}:${(server.address() as AddressInfo).port}`;
  const policyFile = join(dir, 'policy.yaml');
  writeFileSync(policyFile, readFileSync(options.policyFile ?? EXAMPLE_POLICY));
  const config: ConfigInput = {
    issuer: url,
    policy_file: './policy.yaml',
    keys: { dir: './keys' },
    directories: {
      dev: {
        issuer: directory.issuer,
        allow_insecure_http: true,
        timeout: '2s',
        client_credentials: { audience: DEV_DIRECTORY_AUDIENCE },
        token_exchange: { audiences: [DEV_DIRECTORY_AUDIENCE] },
      },
    },
    upstreams: { prod: { audience: PROD_AUDIENCE }, staging: { audience: STAGING_AUDIENCE } },
    default_upstream: 'prod',
    revocation: { sqlite_path: './revocations.sqlite' },
    logging: { level: 'silent' },
  };
  options.configure?.(config);
  const configFile = join(dir, 'config.yaml');
  writeFileSync(configFile, stringify(config));
  const audit = new MemoryAuditLog();
  const services = await createServices(loadConfig(configFile), { logger: createLogger(process.env.ATB_TEST_LOG ?? 'silent'), audit, ...options.overrides }).catch(
    (err: unknown) => {
      // A refused config or policy must not leave the listener open (jest would never exit).
      server.close();
      throw err;
    },
  );
  server.on('request', createRequestListener(services));
  const ops = createServer(createOpsApp(localOps(services)));
  await new Promise<void>((r) => ops.listen(0, '127.0.0.1', r));
  return {
    url,
    opsUrl: `http://127.0.0.1:${(ops.address() as AddressInfo).port}`,
    dir,
    server,
    services,
    audit,
    async close() {
      for (const s of [server, ops]) {
        s.closeAllConnections();
        await new Promise<void>((r) => s.close(() => r()));
      }
      await services.close();
    },
  };
}

export { startDevDirectory as startDirectory };

export function basic(clientId: string, secret: string): string {
  return 'Basic ' + Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64');
}

export async function tokenRequest(broker: Broker, params: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(`${broker.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}
