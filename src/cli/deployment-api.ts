import { request } from 'undici';
import { CliExit, EXIT } from './exit-codes.js';
import type { RenewingToken } from './renewing-token.js';

/** The parts of Airflow's DAG run the CLI reads. */
export interface DagRun {
  dag_run_id: string;
  state: string;
}

/** The parts of Airflow's task instance the CLI reads. */
export interface TaskInstance {
  task_id: string;
  map_index: number;
  state: string | null;
  try_number: number;
}

/** What to send with `POST /dags/{dag_id}/dagRuns` (Airflow 3: `logical_date` is required and may be null). */
export interface TriggerBody {
  logical_date: string | null;
  dag_run_id?: string;
  conf?: Record<string, unknown>;
}

// Errors raised before a byte of the request left: the trigger surely did not reach the proxy.
const notSentCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);
const requestTimeouts = { headersTimeout: 60_000, bodyTimeout: 60_000 };

/**
 * One Airflow 3 deployment through the broker's proxy (`<issuer>/airflow/<deployment>/api/v2`), with a token that
 * is renewed as needed. Reads are retried once with a fresh token after a 401; a trigger is sent exactly once.
 */
export class DeploymentApi {
  constructor(
    /** The API root, e.g. `http://127.0.0.1:8400/airflow/local/api/v2`. */
    readonly root: string,
    private readonly token: RenewingToken,
  ) {}

  /** Triggers a run, once: an answer that is lost is never re-sent (the caller decides, see CliExit messages). */
  async triggerRun(dagId: string, body: TriggerBody): Promise<DagRun> {
    const url = `${this.root}/dags/${encodeURIComponent(dagId)}/dagRuns`;
    const authorization = `Bearer ${await this.token.current()}`;
    let res;
    try {
      res = await request(url, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: JSON.stringify(body), ...requestTimeouts });
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== undefined && notSentCodes.has(code)) throw new CliExit(EXIT.unavailable, `cannot reach the proxy at ${this.root} (${code}): no run was triggered`);
      throw new CliExit(
        EXIT.unavailable,
        `the trigger's answer was lost (${describe(err)}): a run may or may not have been created, and the trigger is not re-sent. ` +
          `To retry safely, trigger with a --run-id of your own and send the same command again: if the first one got through, ` +
          `Airflow answers 409 (exit ${EXIT.conflict}) and \`wait ${dagId} <run-id>\` follows it`,
      );
    }
    const text = await res.body.text();
    if (res.statusCode === 200 || res.statusCode === 201) return JSON.parse(text) as DagRun;
    throw answerError(res.statusCode, text, `triggering ${dagId}`);
  }

  async getRun(dagId: string, runId: string): Promise<DagRun> {
    const run = await this.read<Partial<DagRun>>(`/dags/${encodeURIComponent(dagId)}/dagRuns/${encodeURIComponent(runId)}`, `reading run ${runId} of ${dagId}`);
    return { dag_run_id: run.dag_run_id ?? runId, state: run.state ?? 'unknown' };
  }

  async taskInstances(dagId: string, runId: string): Promise<TaskInstance[]> {
    const page = await this.read<{ task_instances?: TaskInstance[] }>(
      `/dags/${encodeURIComponent(dagId)}/dagRuns/${encodeURIComponent(runId)}/taskInstances`,
      `reading the tasks of run ${runId}`,
    );
    return page.task_instances ?? [];
  }

  private async read<T>(path: string, what: string): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const authorization = `Bearer ${attempt === 0 ? await this.token.current() : await this.token.renew()}`;
      let res;
      try {
        res = await request(this.root + path, { headers: { authorization, accept: 'application/json' }, ...requestTimeouts });
      } catch (err) {
        throw new CliExit(EXIT.unavailable, `${what}: ${describe(err)}`);
      }
      const text = await res.body.text();
      if (res.statusCode === 200) return JSON.parse(text) as T;
      // A token that expired early (clock skew) or was rotated out: one fresh token, then the answer stands.
      if (res.statusCode === 401 && attempt === 0) continue;
      throw answerError(res.statusCode, text, what);
    }
  }
}

/** Turns a refusal of the proxy or an error of Airflow into the documented exit code, with what they said. */
function answerError(status: number, text: string, what: string): CliExit {
  const said = explanation(text);
  const message = `${what}: HTTP ${status}${said ? `: ${said}` : ''}`;
  if (status === 401 || status === 403) return new CliExit(EXIT.refused, message);
  if (status === 409) return new CliExit(EXIT.conflict, message);
  if (status === 429 || status >= 500) return new CliExit(EXIT.unavailable, message);
  return new CliExit(EXIT.badInput, message);
}

/** The broker's `error: error_description`, or Airflow's `detail` (a string, or FastAPI's list of problems). */
function explanation(text: string): string {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return text.slice(0, 200);
  }
  if (typeof body.error === 'string') {
    const reason = typeof body.reason === 'string' ? ` (${body.reason})` : '';
    return [body.error, body.error_description].filter(Boolean).join(': ') + reason;
  }
  if (body.detail !== undefined) return typeof body.detail === 'string' ? body.detail : JSON.stringify(body.detail);
  return text.slice(0, 200);
}

function describe(err: unknown): string {
  const code = (err as { code?: string }).code;
  const message = err instanceof Error ? err.message : String(err);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
