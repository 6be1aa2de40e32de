/** Forwarding a permitted call to Airflow and relaying its answer to the caller. */
import { once } from 'node:events';
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { readUpstream, refusedCredentials, upstreamFailure, type UpstreamRequest } from '../airflow/airflow-client.js';
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

/**
 * Sends the caller's call to Airflow with the proxy's credentials (fresh ones once when Airflow refused them) and
 * relays the answer; a refusal of the proxy's credentials is a 502, never the caller's 401/403. A long poll is
 * aborted at its limit, whatever stage it is in.
 */
export async function forward(deployment: Deployment, call: UpstreamRequest, credentials: CallerCredentials, res: ServerResponse, longPoll?: LongPoll): Promise<void> {
  const limit = longPoll && timeLimit(longPoll.limitMs, call.signal);
  try {
    // Never compressed for a long poll: a gzip stream cut short could not take an error line.
    const sent = limit ? { ...call, headers: { ...call.headers, 'accept-encoding': 'identity' }, signal: limit.signal, bodyTimeoutMs: longPoll.pauseMs } : call;
    await forwardOnce(deployment, sent, credentials, res, call.signal, longPoll);
  } finally {
    limit?.clear();
  }
}

/** An abort signal fired at `ms` (with a 504 `upstream_timeout` as its reason) or when the caller goes away. */
function timeLimit(ms: number, caller: AbortSignal | undefined): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController();
  const reached = () =>
    controller.abort(new OAuthError('upstream_timeout', `the long poll reached the proxy's time limit (timeouts.long_poll, ${formatDuration(ms)}); call it again to go on waiting`));
  const timer = setTimeout(reached, ms);
  return { signal: caller ? AbortSignal.any([caller, controller.signal]) : controller.signal, clear: () => clearTimeout(timer) };
}

async function forwardOnce(deployment: Deployment, call: UpstreamRequest, credentials: CallerCredentials, res: ServerResponse, caller: AbortSignal | undefined, longPoll: LongPoll | undefined): Promise<void> {
  const send = (authorization: string) => deployment.client.request({ ...call, headers: { ...call.headers, authorization } });
  let authorization = await credentials.current();
  let upstream = await send(authorization);
  let answer = await readRefusal(upstream);
  if (answer.refused && deployment.credentials.invalidate(authorization)) {
    upstream = await send((authorization = await credentials.fresh()));
    answer = await readRefusal(upstream);
    // Refused again: the fresh credentials are no better, which the credential mode may remember.
    if (answer.refused) deployment.credentials.invalidate(authorization);
  }
  // A 403 the credential mode pins on itself (Airflow 2's anonymous fallback for a refused password) counts too.
  if (!answer.refused && upstream.statusCode === 403 && (await proxyForbidden(deployment, authorization))) {
    if (!answer.body) await upstream.body.dump();
    answer = { refused: true };
  }
  // The caller's token was fine (we checked it); Airflow refused what the proxy sent on its behalf.
  if (answer.refused) throw deployment.credentials.mode === 'trusted-jwks' ? new OAuthError('upstream_error', MINTED_TOKEN_REFUSED) : refusedCredentials();
  await relay(upstream, res, caller, answer.body, longPoll);
}

const MINTED_TOKEN_REFUSED =
  "Airflow did not accept the per-caller token the proxy minted: its trusted key set, audience or user mapping does not match the broker's";

/** Airflow 3's answer to a token it cannot verify or turn into a user (any other invalid token than an expired one). */
const INVALID_JWT = Buffer.from('{"detail":"Invalid JWT token"}');

/**
 * Did Airflow refuse the credentials the proxy sent? 401, or 403 "Invalid JWT token" (a bad signature, an unknown
 * `kid`, an unknown user), as opposed to 403 "Forbidden", a permission Airflow refuses the caller. Only 403 bodies
 * of at most 256 bytes, or of unknown length, are read to tell: the bytes read are handed on for the relay.
 */
async function readRefusal(upstream: Dispatcher.ResponseData): Promise<{ refused: boolean; body?: Buffer }> {
  if (upstream.statusCode === 401) {
    await upstream.body.dump();
    return { refused: true };
  }
  const length = Number(upstream.headers['content-length']);
  if (upstream.statusCode !== 403 || length > 256) return { refused: false };
  // Airflow 3 streams every answer through a middleware: asked for gzip, even this 30-byte one comes compressed
  // and chunked, without a length.
  const body = length <= 256 ? Buffer.from(await readUpstream(upstream.body.arrayBuffer())) : await readBounded(upstream.body, SMALL_BODY);
  const plain = decodeBody(body, upstream.headers['content-encoding'], INVALID_JWT.length);
  return { refused: plain?.equals(INVALID_JWT) === true, body };
}

/** A body of unknown length read whole, up to `max` bytes: a larger one fails (`upstream_error`). */
async function readBounded(body: Dispatcher.ResponseData['body'], max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > max) throw new OAuthError('upstream_error', "Airflow's refusal was too large to read");
      chunks.push(chunk);
    }
  } catch (err) {
    throw upstreamFailure(err);
  }
  return Buffer.concat(chunks);
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
export async function relay(upstream: Dispatcher.ResponseData, res: ServerResponse, signal: AbortSignal | undefined, read: Buffer | undefined, longPoll: LongPoll | undefined): Promise<void> {
  const headers: OutgoingHttpHeaders = {};
  for (const name of FORWARDED_RESPONSE_HEADERS) {
    const value = upstream.headers[name];
    // Airflow's Vary is added to the proxy's (`Vary: Origin` for CORS), never in its place.
    if (value !== undefined) headers[name] = name === 'vary' ? mergeVary(res.getHeader('vary'), value) : value;
  }
  // Airflow streams `/wait` as NDJSON without saying so; labelled, the caller (and `writeError`) can tell.
  if (longPoll && upstream.statusCode === 200 && headers['content-type'] === undefined) headers['content-type'] = 'application/x-ndjson';
  const filter = longPoll && !longPoll.withResults && upstream.statusCode === 200 ? new NdjsonMemberFilter('results') : undefined;
  if (filter) delete headers['content-length'];
  const length = Number(upstream.headers['content-length']);
  if (read || length <= SMALL_BODY) {
    // Small bodies in one write: cheaper than a stream pipeline per request on the hot path.
    const data = read ?? Buffer.from(await readUpstream(upstream.body.arrayBuffer()));
    const sent = filter ? Buffer.concat([filter.push(data), filter.end()]) : data; // a bad line fails before the status
    res.writeHead(upstream.statusCode, headers).end(sent);
    return;
  }
  const chunks = upstream.body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const head = await readUpstream(chunks.next());
  res.writeHead(upstream.statusCode, headers);
  let lineEnded = true;
  try {
    for (let next = head; !next.done; next = await chunks.next()) {
      const chunk = filter ? filter.push(next.value) : next.value;
      if (chunk.length === 0) continue;
      lineEnded = chunk[chunk.length - 1] === 0x0a;
      if (!res.write(chunk)) await once(res, 'drain', { signal });
    }
    res.end(filter?.end());
  } catch (err) {
    if (signal?.aborted) return; // the caller went away: nothing left to answer
    // The error line that ends a cut NDJSON stream starts a line of its own.
    if (!lineEnded && isPlainNdjson(res)) res.write('\n');
    throw upstreamFailure(err);
  } finally {
    if (!upstream.body.destroyed) upstream.body.destroy();
  }
}
