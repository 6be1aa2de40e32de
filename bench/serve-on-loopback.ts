import type { Server } from 'node:http';

/**
 * Bench only: how a bench process serves. Listens on 127.0.0.1 (`port` 0: any), prints `{"url": ...}` once
 * listening (the bench reads that line), and exits on SIGTERM, SIGINT or when its parent closes stdin (an orphan
 * would keep its port and CPU).
 */
export function serveOnLoopback(server: Server, port: number): void {
  server.listen(port, '127.0.0.1', () => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${address.port}` }) + '\n');
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdin.on('end', stop).resume();
}
