/** Forwarding a permitted call to Airflow and relaying its answer to the caller. */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { refusedCredentials, type AirflowClient, type UpstreamRequest } from '../airflow/airflow-client.js';
import { upstreamFailure, type UpstreamAnswer } from '../airflow/upstream-answer.js';
import type { UpstreamConfig } from '../config/schema.js';
import { formatDuration } from '../config/duration.js';
import { OAuthError } from '../errors/oauth-error.js';
import { decodeBody } from '../http/content-coding.js';
import { isPlainNdjson } from '../http/ndjson-stream.js';
import { mergeVary } from '../http/vary.js';
import type { Deployment } from './deployments.js';
import { NdjsonMemberFilter } from './ndjson-member-filter.js';

/** Response headers passed back to the caller: an allow-list (no Set-Cookie, no Location, no Server). */
const FORWARDED_RESPONSE_HEADERS = ['content-type', 'content-length', 'content-encoding', 'content-language', 'cache-control', 'etag', 'last-modified', 'vary', 'retry-after', 'expires'];

/** The proxy's credentials for one caller: fetched once per request, and fresh ones after Airflow refused them. */
export interface CallerCredentials {
  current: () => Promise<string>;
  fresh: () => Promise<string>;
}

/** The bounds of one long poll (an operation with `longPoll`): how long it may stream, and its longest pause. */
export interface LongPoll {
  limitMs: number;
  pauseMs: number;
  /** Whether the caller may see the run's results (`mayReadRunResults`); without, they are removed from every line. */
  withResults: boolean;
}

/**
 * A long poll may stream for `timeouts.long_poll`. Airflow writes a line every `interval` seconds (the caller's
 * query parameter), so a pause of up to `interval` plus `timeouts.body` is no stall; a longer one still is.
 */
export function longPollBounds(timeouts: UpstreamConfig['timeouts'], query: URLSearchParams, withResults: boolean): LongPoll {
  const interval = Number(query.get('interval'));
  const pauseMs = (Number.isFinite(interval) && interval > 0 ? interval * 1000 : 0) + timeouts.body;
  return { limitMs: timeouts.long_poll, pauseMs: Math.min(pauseMs, timeouts.long_poll), withResults };
}

/** A call relayed to Airflow: the caller's, as `upstreamCall` builds it (no credentials yet, no abort signal). */
export type RelayedCall = Omit<UpstreamRequest, 'signal'>;

/**
 * Sends the caller's call to Airflow with the proxy's credentials (fresh ones once when Airflow refused them) and
 * relays the answer; a refusal of the proxy's credentials is a 502, never the caller's 401/403. A long poll is
 * aborted at its limit, whatever stage it is in.
 */
export async function forward(deployment: Deployment, call: RelayedCall, credentials: CallerCredentials, res: ServerResponse, longPoll?: LongPoll): Promise<void> {
  const flight = new CallInFlight(res, longPoll?.limitMs, longPoll && deployment.longPollsEnd);
  try {
    // Never compressed for a long poll: a gzip stream cut short could not take an error line.
    const sent = longPoll ? { ...call, headers: { ...call.headers, 'accept-encoding': 'identity' }, bodyTimeoutMs: longPoll.pauseMs } : call;
    await relay(await sendAuthorized(deployment, sent, credentials, flight), res, flight, longPoll);
  } finally {
    flight.end();
  }
}

/** Sends a call without any credentials, neither the caller's nor the proxy's, and relays the answer as it is (public operations). */
export async function forwardBare(client: AirflowClient, call: RelayedCall, res: ServerResponse): Promise<void> {
  const flight = new CallInFlight(res, undefined);
  try {
    await relay(await flight.send(client, call), res, flight, undefined);
  } finally {
    flight.end();
  }
}

/**
 * The call the proxy is making to Airflow for one caller: aborted at once when the caller goes away (its connection
 * closed before the answer was complete), or when a long poll reaches its limit (a 504 `upstream_timeout`) or the
 * broker shuts down (`ends`: the drain's reason, `temporarily_unavailable`).
 * Airflow's answer to an earlier try (a refusal), and whatever is left unread at the end, are aborted too.
 */
class CallInFlight {
  /** Set once the caller went away: nothing is left to answer. */
  callerGone = false;
  private answer: UpstreamAnswer | undefined;
  private stopped: Error | undefined;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly res: ServerResponse,
    limitMs: number | undefined,
    private readonly ends?: AbortSignal,
  ) {
    if (res.closed) this.hangUp();
    else res.on('close', this.hangUp);
    if (limitMs !== undefined) {
      const reached = new OAuthError('upstream_timeout', `the long poll reached the proxy's time limit (timeouts.long_poll, ${formatDuration(limitMs)}); call it again to go on waiting`);
      this.timer = setTimeout(() => this.stop(reached), limitMs);
    }
    if (ends?.aborted) this.shutDown();
    else ends?.addEventListener('abort', this.shutDown, { once: true });
  }

  /** Sends `call` and waits for Airflow's status and headers. */
  send(client: AirflowClient, call: RelayedCall): Promise<UpstreamAnswer> {
    this.answer?.abort(SUPERSEDED);
    const answer = (this.answer = client.send(call));
    if (this.stopped) answer.abort(this.stopped);
    return answer.started;
  }

  end(): void {
    clearTimeout(this.timer);
    this.res.off('close', this.hangUp);
    this.ends?.removeEventListener('abort', this.shutDown);
    this.answer?.abort(SUPERSEDED);
  }

  private stop(reason: Error): void {
    this.stopped ??= reason;
    this.answer?.abort(reason);
  }

  private readonly shutDown = (): void => this.stop(this.ends!.reason as Error);

  private readonly hangUp = (): void => {
    if (this.res.writableFinished) return;
    this.callerGone = true;
    this.stop(CALLER_GONE);
  };
}

const CALLER_GONE = new Error('the caller went away');
const SUPERSEDED = new Error('the rest of this answer is not read');

async function sendAuthorized(deployment: Deployment, call: RelayedCall, credentials: CallerCredentials, flight: CallInFlight): Promise<UpstreamAnswer> {
  const send = (authorization: string) => flight.send(deployment.client, { ...call, headers: { ...call.headers, authorization } });
  let authorization = await credentials.current();
  let answer = await send(authorization);
  let refused = await isRefusal(answer);
  if (refused && deployment.credentials.invalidate(authorization)) {
    answer = await send((authorization = await credentials.fresh()));
    refused = await isRefusal(answer);
    // Refused again: the fresh credentials are no better, which the credential mode may remember.
    if (refused) deployment.credentials.invalidate(authorization);
  }
  // A 403 the credential mode pins on itself (Airflow 2's anonymous fallback for a refused password) counts too.
  if (!refused && answer.statusCode === 403) refused = await proxyForbidden(deployment, authorization);
  // The caller's token was fine (we checked it); Airflow refused what the proxy sent on its behalf.
  if (refused) throw deployment.credentials.mode === 'trusted-jwks' ? new OAuthError('upstream_error', MINTED_TOKEN_REFUSED) : refusedCredentials();
  return answer;
}

const MINTED_TOKEN_REFUSED =
  "Airflow did not accept the per-caller token the proxy minted: its trusted key set, audience or user mapping does not match the broker's";

/** Airflow 3's answer to a token it cannot verify or turn into a user (any other invalid token than an expired one). */
const INVALID_JWT = Buffer.from('{"detail":"Invalid JWT token"}');

/**
 * Did Airflow refuse the credentials the proxy sent? 401, or 403 "Invalid JWT token" (a bad signature, an unknown
 * `kid`, an unknown user), as opposed to 403 "Forbidden", a permission Airflow refuses the caller. Only 403 bodies
 * of at most 256 bytes, or of unknown length (read up to 64 KiB), are read to tell; the relay sends the bytes read.
 */
async function isRefusal(answer: UpstreamAnswer): Promise<boolean> {
  if (answer.statusCode === 401) return true;
  if (answer.statusCode !== 403 || Number(answer.headers['content-length']) > 256) return false;
  // Airflow 3 streams every answer through a middleware: asked for gzip, even this 30-byte one comes compressed
  // and chunked, without a length.
  const plain = decodeBody(await answer.whole(SMALL_BODY), answer.headers['content-encoding'], INVALID_JWT.length);
  return plain?.equals(INVALID_JWT) === true;
}

/** Whether Airflow's 403 to `authorization` is the proxy's credentials failing (Airflow 2's anonymous fallback). */
export function proxyForbidden(deployment: Deployment, authorization: string): Promise<boolean> {
  return deployment.credentials.forbidden?.(authorization) ?? Promise.resolve(false);
}

const SMALL_BODY = 64 * 1024;

/**
 * Sends Airflow's answer on. Status and headers are committed only once the body has started to arrive, so a
 * body that stalls before its first byte still becomes a 504 `upstream_timeout`; after that, a stall or a reset
 * can only end the answer visibly (`writeError`: an NDJSON error line, or a cut connection), never cleanly.
 */
async function relay(answer: UpstreamAnswer, res: ServerResponse, flight: CallInFlight, longPoll: LongPoll | undefined): Promise<void> {
  const headers: OutgoingHttpHeaders = {};
  for (const name of FORWARDED_RESPONSE_HEADERS) {
    const value = answer.headers[name];
    // Airflow's Vary is added to the proxy's (`Vary: Origin` for CORS), never in its place.
    if (value !== undefined) headers[name] = name === 'vary' ? mergeVary(res.getHeader('vary'), value) : value;
  }
  // Airflow streams `/wait` as NDJSON without saying so; labelled, the caller (and `writeError`) can tell.
  if (longPoll && answer.statusCode === 200 && headers['content-type'] === undefined) headers['content-type'] = 'application/x-ndjson';
  const filter = longPoll && !longPoll.withResults && answer.statusCode === 200 ? new NdjsonMemberFilter('results') : undefined;
  if (filter) delete headers['content-length'];
  if (answer.body || Number(answer.headers['content-length']) <= SMALL_BODY) {
    // Small bodies in one write: cheaper than a stream pipeline per request on the hot path.
    const data = await answer.whole(SMALL_BODY);
    const sent = filter ? Buffer.concat([filter.push(data), filter.end()]) : data; // a bad line fails before the status
    res.writeHead(answer.statusCode, headers).end(sent);
    return;
  }
  const head = await answer.next();
  res.writeHead(answer.statusCode, headers);
  let lineEnded = true;
  try {
    for (let chunk = head; chunk !== undefined; chunk = await answer.next()) {
      const out = filter ? filter.push(chunk) : chunk;
      if (out.length === 0) continue;
      lineEnded = out[out.length - 1] === 0x0a;
      if (!res.write(out)) await drained(res);
    }
    res.end(filter?.end());
  } catch (err) {
    if (flight.callerGone) return; // nothing left to answer
    // The error line that ends a cut NDJSON stream starts a line of its own.
    if (!lineEnded && isPlainNdjson(res)) res.write('\n');
    throw upstreamFailure(err);
  }
}

/** Resolves once `res` can take more, or has closed (the caller went away: the next read fails). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done).off('close', done);
      resolve();
    };
    res.on('drain', done).on('close', done);
  });
}
