import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { loadConfig, type LoadedConfig } from '../config/load-config.js';
import { InvalidFileError } from '../config/validate-source.js';
import { answerPrimary, clusterOps } from '../http/cluster-ops.js';
import { localOps } from '../http/ops-router.js';
import { openKeyStores } from '../keys/open-key-stores.js';
import { createLogger } from '../observability/logger.js';
import { startOpsListener, startServer } from '../server.js';
import { openRevocationStore } from '../services.js';
import { openExpiringStore } from '../sessions/open-expiring-store.js';

export async function serve(options: { config: string }): Promise<void> {
  const loaded = loadOrExit(options.config);
  const configured = loaded.config.server.workers;
  const workers = configured === 'auto' ? availableParallelism() : configured;
  if (workers > 1 && cluster.isPrimary) return supervise(loaded, workers);
  let running;
  try {
    running = await startServer(options.config, { opsListener: !cluster.isWorker });
  } catch (err) {
    if (err instanceof InvalidFileError) exitWith(err);
    throw err;
  }
  if (cluster.isWorker) answerPrimary(localOps(running.services), running.services.metrics.registry);
  const shutdown = (signal: string) => {
    running.services.logger.info({ signal }, 'shutting down');
    void running.stop().then(() => process.exit(0));
  };
  process.on('SIGHUP', () => running.reload());
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

function loadOrExit(file: string): LoadedConfig {
  try {
    return loadConfig(file);
  } catch (err) {
    if (err instanceof InvalidFileError) exitWith(err);
    throw err;
  }
}

function exitWith(err: InvalidFileError): never {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
}

/**
 * Several worker processes on one port (the kernel spreads connections). The primary creates the first keys
 * and the revocation database before any worker starts, so all sign with the same key; it restarts a worker that dies, passes SIGHUP on,
 * and on SIGTERM lets every worker drain. It serves the ops listener itself: metrics of all workers together,
 * readiness of each (a scrape that reached one worker at random would see counters jump between processes).
 */
async function supervise(loaded: LoadedConfig, workers: number): Promise<void> {
  const logger = createLogger(loaded.config.logging.level);
  await openKeyStores(loaded, logger, Date.now);
  // Create the SQLite files and switch them to WAL once, so the workers only open them; an unreachable Redis stops
  // the start here (exit 1) instead of workers dying and being restarted for ever.
  if (loaded.config.revocation.store !== 'memory') (await openRevocationStore(loaded, logger, Date.now)).close();
  const sessions = loaded.config.login?.session_store;
  if (sessions && sessions.store !== 'memory') await (await openExpiringStore(sessions, loaded, logger, Date.now)).close();
  // Before any worker starts: a port already taken stops the primary alone.
  const ops = await startOpsListener(loaded.config.server.ops, clusterOps());
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  let stopping = false;
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    logger.error({ pid: worker.process.pid, code, signal }, 'worker died; starting another');
    setTimeout(() => cluster.fork(), 1_000).unref();
  });
  const each = (signal: NodeJS.Signals) => Object.values(cluster.workers ?? {}).forEach((w) => w?.process.kill(signal));
  process.on('SIGHUP', () => each('SIGHUP'));
  const stop = (signal: NodeJS.Signals) => {
    stopping = true;
    logger.info({ signal, workers }, 'shutting down workers');
    each('SIGTERM');
    setTimeout(() => process.exit(0), loaded.config.server.shutdown_grace + 5_000).unref();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  logger.info({ workers, ops_url: ops.url }, 'airflow-token-broker primary started');
}
