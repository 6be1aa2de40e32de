import { parseDuration } from '../config/duration.js';
import { loadConfig } from '../config/load-config.js';
import { KeyMaterialError, type KeyProblem } from '../keys/key-file.js';
import { KeyStore, type KeyState, type SigningAlgorithm } from '../keys/key-store.js';
import type { KeySetName } from '../keys/open-key-stores.js';
import { readPublishedAirflowKeys } from '../keys/published-airflow-keys.js';

/** Airflow refetches `trusted_jwks_url` at most this often (airflow/api_fastapi/auth/tokens.py, `refresh_interval_secs`). */
export const AIRFLOW_JWKS_REFRESH_MS = 3_600_000;

interface SetOptions {
  config: string;
  set?: KeySetName;
}

/**
 * `generate` and `rotate` refuse to add a key beside broken key material (exit 1 naming each file): the
 * operator is there to fix it, and `serve` would refuse to start anyway. `list` shows the good keys first.
 */
async function openStore(options: SetOptions, tolerate = false): Promise<{ store: KeyStore; prepublishMs: number; problems: readonly KeyProblem[] }> {
  const { config, paths } = loadConfig(options.config);
  const airflow = options.set === 'airflow';
  const store = new KeyStore({ dir: airflow ? paths.airflowKeysDir : paths.keysDir, algorithm: config.keys.algorithm, maxTokenTtlMs: config.tokens.max_ttl });
  const problems = await store.load();
  if (problems.length > 0 && !tolerate) throw new KeyMaterialError(problems);
  return { store, prepublishMs: airflow ? config.keys.airflow_prepublish : config.keys.prepublish, problems };
}

export async function keysGenerate(options: SetOptions): Promise<void> {
  const { store } = await openStore(options);
  const replaced = store.signingKey();
  const key = await store.generate();
  process.stdout.write(`generated ${key.alg} key ${key.kid} in ${store.dir}; it signs now\n`);
  if (replaced && options.set === 'airflow') {
    process.stderr.write(
      `warning: ${key.kid} replaces ${replaced.kid} at once: Airflow API servers refuse it until they refetch the set ` +
        '(up to an hour): restart every API server once all broker instances publish it (docs/operations.md, a leaked Airflow key)\n',
    );
  }
}

export async function keysRotate(options: SetOptions & { prepublish?: string; force?: boolean }): Promise<void> {
  const { store, prepublishMs } = await openStore(options);
  const prepublish = options.prepublish === undefined ? prepublishMs : parseDuration(options.prepublish);
  if (prepublish === undefined) throw new Error(`--prepublish: "${options.prepublish}" is not a duration`);
  if (options.set === 'airflow' && prepublish < AIRFLOW_JWKS_REFRESH_MS && !options.force) {
    throw new Error(
      `a pre-publication of ${prepublish / 1000} s is shorter than Airflow's JWKS refresh (3600 s): Airflow refetches ` +
        'trusted_jwks_url at most hourly and not on an unknown kid, so it would refuse tokens of the new key until then. ' +
        'Use --force only when every Airflow API server is restarted after the rotation (the emergency procedure)',
    );
  }
  const key = await store.rotate(prepublish);
  process.stdout.write(`added ${key.alg} key ${key.kid} in ${store.dir}: published now, signs from ${new Date(key.signFrom).toISOString()}\n`);
}

/** A row of `keys list`; `external` = a key of Airflow's own (`keys.airflow_publish_also`), published, never signing. */
interface KeyRow {
  kid: string;
  alg: SigningAlgorithm;
  state: KeyState | 'external';
  published: boolean;
  created_at: string | null;
  signs_from: string | null;
  unpublish_at: string | null;
  file?: string;
}

export async function keysList(options: SetOptions & { json?: boolean }): Promise<void> {
  const { store, problems } = await openStore(options, true);
  const rows: KeyRow[] = store.status().map((s) => ({
    kid: s.kid,
    alg: s.alg,
    state: s.state,
    published: s.published,
    created_at: new Date(s.createdAt).toISOString(),
    signs_from: new Date(s.signFrom).toISOString(),
    unpublish_at: s.unpublishAt === undefined ? null : new Date(s.unpublishAt).toISOString(),
  }));
  let external: { problems: readonly KeyProblem[] } | undefined;
  if (options.set === 'airflow') {
    const { config, paths } = loadConfig(options.config);
    try {
      for (const k of await readPublishedAirflowKeys(paths.airflowPublishAlso, config.keys.algorithm)) {
        rows.push({ kid: k.kid, alg: k.alg, state: 'external', published: true, created_at: null, signs_from: null, unpublish_at: null, file: k.file });
      }
    } catch (err) {
      if (!(err instanceof KeyMaterialError)) throw err;
      external = err;
    }
  }
  if (options.json) {
    process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
  } else {
    for (const r of rows) {
      const when = r.state === 'external' ? `published from ${r.file}, never signs` : `signs from ${r.signs_from}`;
      process.stdout.write(`${r.kid}  ${r.alg}  ${r.state.padEnd(8)} ${when}${r.unpublish_at ? `  unpublished at ${r.unpublish_at}` : ''}\n`);
    }
  }
  const all = [...problems, ...(external?.problems ?? [])];
  if (all.length > 0) throw new KeyMaterialError(all);
}
