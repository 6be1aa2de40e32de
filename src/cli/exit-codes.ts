/**
 * Exit codes of `run` and `wait` (docs/cli.md), so a shell script or another system's scheduler can branch on
 * why the command ended. `token` and the other commands exit 1 on any error, except `loginRequired`.
 */
export const EXIT = {
  /** `run`: triggered (without `--wait`); `run --wait` and `wait`: the run ended `success`. */
  success: 0,
  /** The run ended `failed`. */
  runFailed: 1,
  /** Bad input: usage, an unreadable or non-JSON `--conf`, an unknown deployment or DAG, Airflow's 400/404/422. */
  badInput: 2,
  /** Refused: the broker refused the credentials (invalid_client...) or the proxy the call (401/403). */
  refused: 3,
  /** `--timeout` elapsed before the run ended; the run goes on (`wait` it again). */
  timeout: 4,
  /** The broker, the proxy or Airflow is unreachable or failing (5xx, 429); after a trigger: the outcome is unknown. */
  unavailable: 5,
  /** A run with this `--run-id` exists (Airflow's 409): an earlier trigger got through; `wait` for it. */
  conflict: 6,
  /**
   * No client id given, and the token of `airflow-token-broker login` is missing, expired or no longer accepted:
   * a person's token is never renewed silently; the person logs in again (`token`, `run`, `wait`).
   */
  loginRequired: 7,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Ends a `run` or `wait` with `code`, after writing `message` to stderr. */
export class CliExit extends Error {
  constructor(
    readonly code: ExitCode,
    message: string,
  ) {
    super(message);
    this.name = 'CliExit';
  }
}

/** Runs a command body, turning its CliExit (or any other error: unavailable) into stderr and the exit code. */
export async function exitWith(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    const exit = err instanceof CliExit ? err : new CliExit(EXIT.unavailable, err instanceof Error ? err.message : String(err));
    process.stderr.write(`error: ${exit.message}\n`);
    process.exitCode = exit.code;
  }
}
