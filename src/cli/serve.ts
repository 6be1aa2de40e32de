import { InvalidFileError } from '../config/validate-source.js';
import { startServer } from '../server.js';

export async function serve(options: { config: string }): Promise<void> {
  let running;
  try {
    running = await startServer(options.config);
  } catch (err) {
    if (err instanceof InvalidFileError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const shutdown = (signal: string) => {
    running.services.logger.info({ signal }, 'shutting down');
    void running.stop().then(() => process.exit(0));
  };
  process.on('SIGHUP', () => running.services.policyReloader.reload('signal'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}
