import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

let python: string | undefined;

/**
 * Runs a Python snippet with the cached Airflow venv (`scripts/airflow/ensure-venv.sh`), in a fresh AIRFLOW_HOME,
 * to ask the real Airflow what it computes; resolves with stdout, trimmed. Asynchronous, so that a server in the
 * test's own process can answer the snippet.
 */
export async function runAirflowPython(script: string, args: string[] = [], env: Record<string, string> = {}): Promise<string> {
  python ??= join(execFileSync('scripts/airflow/ensure-venv.sh', { encoding: 'utf8' }).trim().split('\n').pop()!, 'bin', 'python');
  const home = mkdtempSync(join(tmpdir(), 'atb-airflow-home-'));
  const { stdout } = await promisify(execFile)(python, ['-c', script, ...args], { encoding: 'utf8', env: { ...process.env, AIRFLOW_HOME: home, ...env } });
  return stdout.trim();
}
