import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// The companion's own pytest suite (companions/tests), run by `npm test` in the Airflow 2 virtualenv it is written
// for (scripts/airflow2/ensure-venv.sh; ATB_AIRFLOW2_PYTHON names another interpreter). Each pytest test becomes a
// jest test of the same name, failing with pytest's own report. Collected synchronously: jest declares tests first.

interface PytestResult {
  test: string;
  phase: string;
  outcome: 'passed' | 'failed' | 'skipped';
  report: string;
}

function airflow2Python(): string {
  if (process.env.ATB_AIRFLOW2_PYTHON) return process.env.ATB_AIRFLOW2_PYTHON;
  const venv = execFileSync('scripts/airflow2/ensure-venv.sh', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return join(venv.trim().split('\n').pop()!, 'bin', 'python');
}

function runPytest(): { status: number | null; output: string; results: PytestResult[] } {
  const resultsFile = join(mkdtempSync(join(tmpdir(), 'atb-pytest-')), 'results.json');
  const run = spawnSync(airflow2Python(), ['-m', 'pytest', '-q', '-W', 'ignore::DeprecationWarning'], {
    cwd: resolve('companions'),
    encoding: 'utf8',
    env: { ...process.env, ATB_PYTEST_RESULTS: resultsFile, AIRFLOW_HOME: mkdtempSync(join(tmpdir(), 'atb-pytest-home-')) },
    timeout: 600_000,
  });
  let results: PytestResult[] = [];
  try {
    results = JSON.parse(readFileSync(resultsFile, 'utf8')) as PytestResult[];
  } catch {
    // No results file: pytest never got to run its session (reported by the first test below).
  }
  return { status: run.status, output: `${run.stdout ?? ''}${run.stderr ?? ''}${run.error ? String(run.error) : ''}`, results };
}

const pytest = runPytest();

describe('companion pytest suite (companions/tests, Airflow 2 venv)', () => {
  it('pytest ran the suite and exited cleanly', () => {
    if (pytest.results.length === 0 || pytest.status !== 0) throw new Error(`pytest exited ${pytest.status}:\n${pytest.output.slice(-4000)}`);
  });

  it.each(pytest.results.map((r) => [`${r.test}${r.phase === 'call' ? '' : ` (${r.phase})`}`, r] as const))('%s', (_name, result) => {
    if (result.outcome === 'failed') throw new Error(result.report);
  });
});
