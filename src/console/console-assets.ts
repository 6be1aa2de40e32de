import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One prebuilt file of the console, kept in memory (the whole console is a few kB). */
export interface ConsoleAsset {
  body: Buffer;
  contentType: string;
  /** A strong validator from the content: assets are sent `no-cache`, so a new release is picked up at once. */
  etag: string;
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** `dist/console` of this package, found from this module's own file (dist/src/console when built, src/console under jest). */
export function defaultConsoleAssetsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return join(dir, 'dist', 'console');
}

/**
 * The console's prebuilt assets (`npm run build` writes them: console/ compiled by tsc, plus its stylesheet), read
 * once. Only the file names found in the directory can be served: a request names a key of this map, never a path.
 */
export class ConsoleAssets {
  private readonly files = new Map<string, ConsoleAsset>();

  constructor(readonly dir: string = defaultConsoleAssetsDir()) {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      const contentType = TYPES[extname(name)];
      if (!contentType) continue;
      const body = readFileSync(join(dir, name));
      this.files.set(name, { body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` });
    }
  }

  /** True when the build ran: the page's script and stylesheet are there. */
  get built(): boolean {
    return this.files.has('main.js') && this.files.has('console.css');
  }

  get(name: string): ConsoleAsset | undefined {
    return this.files.get(name);
  }
}
