// The console's prebuilt assets (`npm run build`, `prepare`): its TypeScript compiled by the project's own tsc
// into dist/console (one ES module per file, loaded by the page as `script-src 'self'`), and its stylesheet copied.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';

rmSync('dist/console', { recursive: true, force: true });
const tsc = spawnSync('tsc', ['-p', 'console/tsconfig.json'], { stdio: 'inherit', shell: process.platform === 'win32' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
mkdirSync('dist/console', { recursive: true });
copyFileSync('console/console.css', 'dist/console/console.css');
