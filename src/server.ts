import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequestListener } from './app.js';
import { loadConfig } from './config/load-config.js';
import { createServices, type Services } from './services.js';

export interface RunningServer {
  server: Server;
  services: Services;
  url: string;
  stop(): Promise<void>;
}

/** Starts the broker from a config file; `stop` drains in-flight requests within the grace period. */
export async function startServer(configFile: string): Promise<RunningServer> {
  const loaded = loadConfig(configFile);
  const services = await createServices(loaded);
  const { host, port, shutdown_grace } = loaded.config.server;
  const server = createServer(createRequestListener(services));
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  if (loaded.config.policy_watch) services.policyReloader.watch();
  services.directories.warmUp((name, err) => services.logger.warn({ directory: name, err }, 'directory discovery failed; retrying on use'));
  const url = `http://${host}:${(server.address() as AddressInfo).port}`;
  services.logger.info({ url, issuer: loaded.config.issuer, policy_hash: services.policies.current().hash }, 'airflow-token-broker listening');
  let stopping: Promise<void> | undefined;
  return {
    server,
    services,
    url,
    stop() {
      stopping ??= (async () => {
        const closed = new Promise<void>((r) => server.close(() => r()));
        server.closeIdleConnections();
        const grace = new Promise<void>((r) => setTimeout(r, shutdown_grace).unref());
        await Promise.race([closed, grace]);
        server.closeAllConnections();
        await services.close();
      })();
      return stopping;
    },
  };
}
