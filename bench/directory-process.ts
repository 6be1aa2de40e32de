import { startDevDirectory } from '../scripts/dev-directory.js';

/**
 * The dev directory as a process of its own, so the bench measures it on its own event loop. Prints one JSON
 * line `{"issuer": ...}` once listening; exits on SIGTERM/SIGINT or when its parent closes stdin.
 */
const directory = await startDevDirectory({ accessTokenTtlSeconds: Number(process.env.BENCH_DIRECTORY_TOKEN_TTL ?? 3600) });
process.stdout.write(JSON.stringify({ issuer: directory.issuer }) + '\n');

const stop = () => void directory.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
// An orphaned directory would keep its port and CPU: the parent's stdin pipe closing means it is gone.
process.stdin.on('end', stop).resume();
