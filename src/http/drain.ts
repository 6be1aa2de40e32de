import type { ServerResponse } from 'node:http';
import { OAuthError } from '../errors/oauth-error.js';

/**
 * The shutdown of one broker process, as its listener sees it (docs/operations.md, "Shutdown and drain"). The server
 * `track`s every request; on SIGTERM `begin()` makes `/readyz` answer 503 and every answer not yet begun carry
 * `Connection: close` (the caller's next request opens a connection elsewhere); `endLongPolls()`, at
 * `server.shutdown_stream_limit`, aborts {@link longPollsEnd}, which each deployment carries and the relay's long polls listen to;
 * `idle()` resolves once the last request has closed.
 *
 * @example
 * drain.begin(); server.close();
 * setTimeout(() => drain.endLongPolls(), streamLimitMs);
 * await Promise.race([drain.idle(), grace]);
 */
export class Drain {
  private began = false;
  private readonly inFlight = new Set<ServerResponse>();
  private readonly longPolls = new AbortController();
  private wake: (() => void) | undefined;
  /** One listener for every response (no closure per request): `this` is the response that closed. */
  private readonly closed: (this: ServerResponse) => void;

  constructor() {
    const drain = this;
    this.closed = function (this: ServerResponse) {
      drain.inFlight.delete(this);
      if (drain.inFlight.size > 0) return;
      const wake = drain.wake;
      drain.wake = undefined;
      wake?.();
    };
  }

  /** Whether shutdown has begun (`/readyz` then answers 503). */
  get started(): boolean {
    return this.began;
  }

  /** Requests whose answers have not closed yet. */
  get requestsInFlight(): number {
    return this.inFlight.size;
  }

  /** Aborted, with the {@link shuttingDown} error as its reason, when long polls must end. */
  get longPollsEnd(): AbortSignal {
    return this.longPolls.signal;
  }

  /** Counts `res` until it closes; once shutdown has begun, its answer closes its connection. */
  track(res: ServerResponse): void {
    if (this.began) res.setHeader('Connection', 'close');
    this.inFlight.add(res);
    res.once('close', this.closed);
  }

  begin(): void {
    this.began = true;
    for (const res of this.inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
  }

  endLongPolls(): void {
    this.longPolls.abort(shuttingDown());
  }

  /** Resolves once no request is in flight. */
  idle(): Promise<void> {
    if (this.inFlight.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.wake;
      this.wake = () => {
        previous?.();
        resolve();
      };
    });
  }
}

/**
 * Why a long poll ends at shutdown: the last NDJSON line of its stream (`writeError`), or a 503 with `Retry-After`
 * when Airflow had not answered yet. A caller calls again and reaches another instance.
 */
export function shuttingDown(): OAuthError {
  return new OAuthError('temporarily_unavailable', 'the broker is shutting down: call again to go on waiting (another instance answers)', { retryAfter: 1 });
}
