import { join } from 'node:path';
import { isMap, type Document } from 'yaml';

/**
 * Defaults that the environment gives for keys a config file leaves unset, so that a container image can say
 * where it listens and keeps its state without every operator writing it (docker/Dockerfile sets both):
 *
 * - `AIRFLOW_TOKEN_BROKER_LISTEN_HOST`: `server.host` and `server.ops.host` (the image: `0.0.0.0`, since a
 *   container's loopback is reachable by nobody else; outside a container both stay `127.0.0.1`).
 * - `AIRFLOW_TOKEN_BROKER_STATE_DIR`: the folder of `keys.dir` (`<dir>/keys`), `keys.airflow_dir`
 *   (`<dir>/keys/airflow`) and `revocation.sqlite_path` (`<dir>/data/revocations.sqlite`) instead of the config
 *   file's folder (the image: `/app`, its volumes; the config's folder is a read-only mount there).
 *
 * A key the file sets always wins, whatever its value; these are never read for anything else.
 */
export const LISTEN_HOST_ENV = 'AIRFLOW_TOKEN_BROKER_LISTEN_HOST';
export const STATE_DIR_ENV = 'AIRFLOW_TOKEN_BROKER_STATE_DIR';

/** Writes the environment's defaults into the parsed file where it has no value (before validation). */
export function applyEnvironmentDefaults(doc: Document.Parsed, env: NodeJS.ProcessEnv): void {
  if (doc.errors.length > 0) return; // syntax problems are reported as they are
  const host = env[LISTEN_HOST_ENV];
  const state = env[STATE_DIR_ENV];
  const defaults: Array<[string[], string | undefined]> = [
    [['server', 'host'], host],
    [['server', 'ops', 'host'], host],
    [['keys', 'dir'], state && join(state, 'keys')],
    [['keys', 'airflow_dir'], state && join(state, 'keys', 'airflow')],
    [['revocation', 'sqlite_path'], state && join(state, 'data', 'revocations.sqlite')],
  ];
  for (const [path, value] of defaults) if (value) setIfAbsent(doc, path, value);
}

/** Sets `path` unless it is there; leaves a file whose parents are not maps alone (validation names those). */
function setIfAbsent(doc: Document.Parsed, path: string[], value: string): void {
  if (doc.contents !== null && !isMap(doc.contents)) return;
  for (let i = 1; i < path.length; i++) {
    const parent = doc.getIn(path.slice(0, i), true);
    if (parent !== undefined && !isMap(parent)) return;
  }
  if (!doc.hasIn(path)) doc.setIn(path, value);
}
