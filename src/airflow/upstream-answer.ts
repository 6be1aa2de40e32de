import type { IncomingHttpHeaders } from 'node:http';
import { errors as undiciErrors, type Dispatcher } from 'undici';
import { OAuthError } from '../errors/oauth-error.js';

/** How much of a body is held while nobody reads it: beyond this, Airflow's connection is paused (backpressure). */
const HIGH_WATER = 64 * 1024;

/**
 * Airflow's answer to one call, read through undici's dispatch handler (`Dispatcher.dispatch`): the chunks are
 * kept as undici hands them over, with no stream, no AbortSignal and no promise per chunk in between. On the hot
 * path a small answer has arrived whole before its reader looks at it: `whole()` then costs no wait and, for a
 * body in one chunk, no copy.
 *
 * It is read once, either whole (`whole`) or chunk by chunk (`next`, paused past 64 KiB held), and `abort` ends it
 * early, closing its connection. A failure (no answer, a stall, a reset) is mapped to our error once (`upstreamFailure`).
 *
 * @example const answer = await client.send(call); if (answer.statusCode === 200) res.end(await answer.whole(max));
 */
export class UpstreamAnswer implements Dispatcher.DispatchHandler {
  statusCode = 0;
  headers: IncomingHttpHeaders = {};
  /** The whole body, once `whole()` has read it. */
  body: Buffer | undefined;
  /** Resolves when the status and headers have arrived; rejects when the call failed before. */
  readonly started: Promise<UpstreamAnswer>;
  private controller: Dispatcher.DispatchController | undefined;
  private chunks: Buffer[] = [];
  private held = 0;
  private ended = false;
  private failure: OAuthError | undefined;
  private abortedWith: Error | undefined;
  private settleStart!: { resolve: (answer: UpstreamAnswer) => void; reject: (err: OAuthError) => void };
  /** The reader waiting for more (the next chunk, or the end), if any. */
  private wake: (() => void) | undefined;

  constructor() {
    this.started = new Promise<UpstreamAnswer>((resolve, reject) => (this.settleStart = { resolve, reject }));
  }

  /** The whole body, failing (`upstream_error`) past `max` bytes. */
  async whole(max: number): Promise<Buffer> {
    if (this.body) return this.body;
    for (;;) {
      if (this.failure) throw this.failure;
      if (this.held > max) {
        const tooLarge = new OAuthError('upstream_error', "Airflow's answer was too large to read");
        this.abort(tooLarge);
        throw tooLarge;
      }
      if (this.ended) break;
      this.controller?.resume();
      await this.more();
    }
    this.body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.held);
    this.chunks = [];
    return this.body;
  }

  /** The next chunk of the body, or undefined at its end. */
  async next(): Promise<Buffer | undefined> {
    while (this.chunks.length === 0 && !this.ended && !this.failure) await this.more();
    const chunk = this.chunks.shift();
    if (chunk) {
      this.held -= chunk.length;
      if (this.held < HIGH_WATER) this.controller?.resume();
      return chunk;
    }
    if (this.failure) throw this.failure;
    return undefined;
  }

  /** Stops the call (the caller went away, a time limit, nobody will read the rest): its connection is closed. */
  abort(reason: Error): void {
    if (this.ended || this.failure || this.abortedWith) return;
    this.abortedWith = reason;
    // Not yet on a connection: undici aborts it once it is (`onRequestStart`).
    this.controller?.abort(reason);
    this.fail(reason);
  }

  /** Whether the body has been read to its end (nothing is left to abort). */
  get complete(): boolean {
    return this.ended;
  }

  private more(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private fail(err: unknown): void {
    if (this.failure) return;
    this.failure = upstreamFailure(err);
    if (this.statusCode === 0) this.settleStart.reject(this.failure);
    this.notify();
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortedWith) controller.abort(this.abortedWith);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return; // 1xx: informational, the answer is still to come
    this.statusCode = statusCode;
    this.headers = headers;
    this.settleStart.resolve(this);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk);
    this.held += chunk.length;
    if (this.held >= HIGH_WATER && this.wake === undefined) controller.pause();
    this.notify();
  }

  onResponseEnd(): void {
    this.ended = true;
    this.notify();
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    this.fail(error);
  }
}

/** Network failures become 502, timeouts 504; the message names neither host nor port. */
export function upstreamFailure(err: unknown): OAuthError {
  if (err instanceof OAuthError) return err;
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError || err instanceof undiciErrors.ConnectTimeoutError) {
    return new OAuthError('upstream_timeout', 'Airflow did not answer in time', { cause: err });
  }
  return new OAuthError('upstream_error', 'Airflow could not be reached', { cause: err });
}
