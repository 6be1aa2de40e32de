import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createOpsApp, createRequestListener } from './app.js';
import { changedConfigKeys } from './config/config-changes.js';
import { loadConfig } from './config/load-config.js';
import type { Config } from './config/schema.js';
import { localOps, type OpsSource } from './http/ops-router.js';
import type { Logger } from './observability/logger.js';
import { createServices, type Services } from './services.js';

export interface RunningServer {
  server: Server;
  services: Services;
  url: string;
  /** The ops listener's URL; undefined in a worker of several (the primary serves it). */
  opsUrl: string | undefined;
  /**
   * SIGHUP: reloads the policy. The config is read at start only, so a config file changed since then is logged
   * (the keys that changed, never their values) as needing a restart, rather than silently not applied.
   */
  reload(): void;
  /** Drains and stops (docs/operations.md, "Shutdown and drain"); idempotent. */
  stop(): Promise<Shutdown>;
}

/** How a stop went: `drained` when every request finished within `server.shutdown_grace`, else `cut` were cut. */
export interface Shutdown {
  drained: boolean;
  cut: number;
}

export interface StartOptions {
  /** Serve `server.ops` from this process (default). False in a worker of several: the primary serves it. */
  opsListener?: boolean;
}

/** Starts the broker from a config file; `stop` drains in-flight requests within the grace period. */
export async function startServer(configFile: string, options: StartOptions = {}): Promise<RunningServer> {
  const loaded = loadConfig(configFile);
  const services = await createServices(loaded);
  const { host, port, shutdown_grace, shutdown_stream_limit, keep_alive_timeout } = loaded.config.server;
  const { drain } = services;
  const listener = createRequestListener(services);
  const server = createServer((req, res) => {
    drain.track(res);
    listener(req, res);
  });
  // Longer than the idle timeout of the load balancer in front, so that it is always the one to close an idle
  // connection: else it may send a request on a connection the broker is closing (a 502 to the caller).
  server.keepAliveTimeout = keep_alive_timeout;
  // Node counts it from a request's first byte, not from when its connection went idle: it needs not exceed the above.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await listen(server, host, port);
  const ops = options.opsListener === false ? undefined : await startOpsListener(loaded.config.server.ops, localOps(services));
  if (loaded.config.policy_watch) services.policyReloader.watch();
  services.directories.warmUp((name, err) => services.logger.warn({ directory: name, err }, 'directory discovery failed; retrying on use'));
  services.upstreamProbes.start();
  const url = `http://${host}:${(server.address() as AddressInfo).port}`;
  services.logger.info({ url, ops_url: ops?.url, issuer: loaded.config.issuer, policy_hash: services.policies.current().hash }, 'airflow-token-broker listening');
  let stopping: Promise<Shutdown> | undefined;
  return {
    server,
    services,
    url,
    opsUrl: ops?.url,
    reload() {
      warnIfConfigChanged(loaded.config, configFile, services.logger);
      services.policyReloader.reload('signal');
    },
    stop() {
      stopping ??= (async () => {
        // Out of the load balancer first, then no new connection; idle keep-alive connections close now, the
        // others after their answer (`Connection: close`).
        drain.begin();
        server.close();
        server.closeIdleConnections();
        const timers: NodeJS.Timeout[] = [setTimeout(() => drain.endLongPolls(), shutdown_stream_limit ?? shutdown_grace / 2)];
        const graceOver = new Promise<false>((r) => timers.push(setTimeout(() => r(false), shutdown_grace)));
        const drained = await Promise.race([drain.idle().then(() => true), graceOver]);
        timers.forEach(clearTimeout);
        const cut = drain.requestsInFlight;
        if (!drained) services.logger.error({ in_flight: cut, shutdown_grace }, 'shutdown grace ran out: cutting the requests still in flight');
        server.closeAllConnections();
        await ops?.close();
        await services.close();
        return { drained, cut };
      })();
      return stopping;
    },
  };
}

function warnIfConfigChanged(running: Config, configFile: string, logger: Logger): void {
  let changed: string[];
  try {
    changed = changedConfigKeys(running, loadConfig(configFile).config);
  } catch (err) {
    logger.warn({ err }, 'the config file changed and no longer loads: the running config stays; a restart would fail (run config check)');
    return;
  }
  if (changed.length > 0) logger.warn({ changed }, 'the config file changed: restart to apply it (SIGHUP reloads the policy only)');
}

export interface OpsListener {
  url: string;
  close(): Promise<void>;
}

/** The ops listener (`server.ops`): probes and metrics, apart from the public port. */
export async function startOpsListener(config: Config['server']['ops'], source: OpsSource): Promise<OpsListener> {
  const server = createServer(createOpsApp(source));
  server.keepAliveTimeout = 5_000;
  server.requestTimeout = 10_000;
  await listen(server, config.host, config.port);
  return {
    url: `http://${config.host}:${(server.address() as AddressInfo).port}`,
    close() {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
}
