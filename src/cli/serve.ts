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
  // Exit 0 once drained; 1 when the grace ran out (`stop` logged what it cut) or the stop failed.
  const shutdown = (signal: string) => {
    running.services.logger.info({ signal, in_flight: running.services.drain.requestsInFlight }, 'shutting down');
    running.stop().then(
      ({ drained }) => process.exit(drained ? 0 : 1),
      (err: unknown) => {
        running.services.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
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
 * and on SIGTERM lets every worker drain (exiting 1 if one had to cut requests). It serves the ops listener itself: metrics of all workers together,
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
  let stopping = false;
  // Not ready from the primary's SIGTERM on, before any worker has heard of it.
  const ops = await startOpsListener(loaded.config.server.ops, clusterOps({ stopping: () => stopping }));
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  for (let i = 0; i < workers; i++) cluster.fork();
  let failed = false;
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      // A worker that cut requests at the end of its grace exits 1 (and said so): so does the primary.
      if (code !== 0) failed = true;
      if (Object.keys(cluster.workers ?? {}).length === 0) void ops.close().then(() => process.exit(failed ? 1 : 0));
      return;
    }
    logger.error({ pid: worker.process.pid, code, signal }, 'worker died; starting another');
    setTimeout(() => cluster.fork(), 1_000).unref();
  });
  const running = () => Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
  const each = (signal: NodeJS.Signals) => running().forEach((w) => w.process.kill(signal));
  process.on('SIGHUP', () => each('SIGHUP'));
  const stop = (signal: NodeJS.Signals) => {
    stopping = true;
    logger.info({ signal, workers }, 'shutting down workers');
    each('SIGTERM');
    // Each worker keeps its own grace; one that has not exited soon after is stuck.
    setTimeout(() => {
      logger.error({ workers: running().map((w) => w.process.pid), shutdown_grace: loaded.config.server.shutdown_grace }, 'workers did not exit within the shutdown grace: killing them');
      each('SIGKILL');
      process.exit(1);
    }, loaded.config.server.shutdown_grace + 5_000).unref();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  logger.info({ workers, ops_url: ops.url }, 'airflow-token-broker primary started');
}
