import { AirflowClient, type AirflowClientOptions } from '../airflow/airflow-client.js';
import type { UpstreamAnswer } from '../airflow/upstream-answer.js';

/**
 * An Airflow client whose long polls end when the broker shuts down: once `longPollsEnd` is aborted, each answer
 * still streaming is aborted with its reason (the relay then ends the stream with that error as its last NDJSON
 * line). A long poll is a call with its own pause limit (`bodyTimeoutMs`: only the relay's long polls set one).
 * Other calls are left to finish within the grace period.
 */
export class DrainingAirflowClient extends AirflowClient {
  /** Held weakly: an answer the relay has dropped needs no abort, and must not be kept alive by this set. */
  private readonly longPolls = new Set<WeakRef<UpstreamAnswer>>();
  private pruneAt = 64;

  constructor(
    options: AirflowClientOptions,
    private readonly longPollsEnd: AbortSignal,
  ) {
    super(options);
    longPollsEnd.addEventListener('abort', () => {
      for (const ref of this.longPolls) ref.deref()?.abort(longPollsEnd.reason as Error);
      this.longPolls.clear();
    }, { once: true });
  }

  override send(call: Parameters<AirflowClient['send']>[0]): UpstreamAnswer {
    const answer = super.send(call);
    if (call.bodyTimeoutMs === undefined) return answer;
    if (this.longPollsEnd.aborted) answer.abort(this.longPollsEnd.reason as Error);
    else this.hold(answer);
    return answer;
  }

  private hold(answer: UpstreamAnswer): void {
    if (this.longPolls.size >= this.pruneAt) {
      for (const ref of this.longPolls) if (ref.deref()?.complete !== false) this.longPolls.delete(ref);
      this.pruneAt = Math.max(64, 2 * this.longPolls.size);
    }
    this.longPolls.add(new WeakRef(answer));
  }
}
