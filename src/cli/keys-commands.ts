import { parseDuration } from '../config/duration.js';
import { loadConfig } from '../config/load-config.js';
import { KeyMaterialError, type KeyProblem } from '../keys/key-file.js';
import { KeyStore } from '../keys/key-store.js';

/**
 * `generate` and `rotate` refuse to add a key beside broken key material (exit 1 naming each file): the
 * operator is there to fix it, and `serve` would refuse to start anyway. `list` shows the good keys first.
 */
async function openStore(configFile: string, options: { tolerate?: boolean } = {}): Promise<{ store: KeyStore; prepublishMs: number; problems: readonly KeyProblem[] }> {
  const { config, paths } = loadConfig(configFile);
  const store = new KeyStore({ dir: paths.keysDir, algorithm: config.keys.algorithm, maxTokenTtlMs: config.tokens.max_ttl });
  const problems = await store.load();
  if (problems.length > 0 && !options.tolerate) throw new KeyMaterialError(problems);
  return { store, prepublishMs: config.keys.prepublish, problems };
}

export async function keysGenerate(options: { config: string }): Promise<void> {
  const { store } = await openStore(options.config);
  const key = await store.generate();
  process.stdout.write(`generated ${key.alg} key ${key.kid} in ${store.dir}; it signs now\n`);
}

export async function keysRotate(options: { config: string; prepublish?: string }): Promise<void> {
  const { store, prepublishMs } = await openStore(options.config);
  const prepublish = options.prepublish === undefined ? prepublishMs : parseDuration(options.prepublish);
  if (prepublish === undefined) throw new Error(`--prepublish: "${options.prepublish}" is not a duration`);
  const key = await store.rotate(prepublish);
  process.stdout.write(`added ${key.alg} key ${key.kid}: published now, signs from ${new Date(key.signFrom).toISOString()}\n`);
}

export async function keysList(options: { config: string; json?: boolean }): Promise<void> {
  const { store, problems } = await openStore(options.config, { tolerate: true });
  const rows = store.status().map((s) => ({
    kid: s.kid,
    alg: s.alg,
    state: s.state,
    published: s.published,
    created_at: new Date(s.createdAt).toISOString(),
    signs_from: new Date(s.signFrom).toISOString(),
    unpublish_at: s.unpublishAt === undefined ? null : new Date(s.unpublishAt).toISOString(),
  }));
  if (options.json) {
    process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
  } else {
    for (const r of rows) process.stdout.write(`${r.kid}  ${r.alg}  ${r.state.padEnd(8)} signs from ${r.signs_from}${r.unpublish_at ? `  unpublished at ${r.unpublish_at}` : ''}\n`);
  }
  if (problems.length > 0) throw new KeyMaterialError(problems);
}
