import { Pool, type Dispatcher } from 'undici';
import { OAuthError } from '../errors/oauth-error.js';
import { UpstreamAnswer, upstreamFailure } from './upstream-answer.js';

export interface AirflowClientOptions {
  /** Base URL without `/api/v2`; may carry a path prefix. */
  url: string;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
}

/** One request to Airflow: the path below the configured base, already validated. */
export interface UpstreamRequest {
  method: Dispatcher.HttpMethod;
  path: string;
  headers: Record<string, string>;
  body?: Buffer | string | undefined;
  /** Aborts the request (the caller went away): the connection is closed at once. */
  signal?: AbortSignal | undefined;
  /** Longest pause while the body streams, in place of the deployment's `timeouts.body` (long polls). */
  bodyTimeoutMs?: number | undefined;
}

/**
 * A keep-alive connection pool to one Airflow API server. Paths are appended to the configured base as
 * validated bytes: a client path is never resolved against the base with `new URL`.
 */
export class AirflowClient {
  private readonly pool: Pool;
  private readonly basePath: string;

  constructor(private readonly options: AirflowClientOptions) {
    const base = new URL(options.url);
    this.basePath = base.pathname.replace(/\/+$/, '');
    this.pool = new Pool(base.origin, {
      connections: 64,
      connect: { timeout: options.connectTimeoutMs },
      headersTimeout: options.headersTimeoutMs,
      bodyTimeout: options.bodyTimeoutMs,
      keepAliveTimeout: 4_000,
    });
  }

  /**
   * Sends a call whose answer the proxy relays (`relay.ts`): undici's dispatch API, which hands the answer over
   * without the stream, the AbortSignal and the promise `request` builds around it. Await `answer.started` for the
   * status and headers; `answer.abort` stops it.
   */
  send(call: Omit<UpstreamRequest, 'signal'>): UpstreamAnswer {
    const answer = new UpstreamAnswer();
    const { method, headers, body, bodyTimeoutMs } = call;
    this.pool.dispatch({ method, path: this.basePath + call.path, headers, body, ...(bodyTimeoutMs === undefined ? {} : { bodyTimeout: bodyTimeoutMs }) }, answer);
    return answer;
  }

  /** Sends a request whose answer the proxy reads itself; `path` starts with `/` and is already validated (e.g. `/api/v2/dags?limit=1`). */
  request(call: UpstreamRequest): Promise<Dispatcher.ResponseData> {
    const { method, headers, body, signal, bodyTimeoutMs } = call;
    return readUpstream(this.pool.request({ method, path: this.basePath + call.path, headers, body, signal, ...(bodyTimeoutMs === undefined ? {} : { bodyTimeout: bodyTimeoutMs }) }));
  }

  /** A JSON call made by the proxy itself (login, lookups, list scans). */
  async json(method: Dispatcher.HttpMethod, path: string, authorization: string | undefined, body?: unknown, signal?: AbortSignal): Promise<{ status: number; body: unknown }> {
    // Never compressed: the proxy reads these itself, near Airflow, where bytes are cheaper than CPU on both ends.
    const headers: Record<string, string> = { accept: 'application/json', 'accept-encoding': 'identity' };
    if (authorization) headers.authorization = authorization;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await this.request({ method, path, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
    const text = await readUpstream(res.body.text());
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      throw new OAuthError('upstream_error', 'Airflow answered with invalid JSON');
    }
    return { status: res.statusCode, body: parsed };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** Awaits a request or the reading of its body, with failures mapped (a stalled body or no answer: 504). */
export async function readUpstream<T>(reading: Promise<T>): Promise<T> {
  try {
    return await reading;
  } catch (err) {
    throw upstreamFailure(err);
  }
}

/**
 * Airflow answered 401 to the proxy's own credentials: the caller's token was fine (the proxy checked it), so this
 * is a 502 about the proxy, never a 401 the caller would take for its own.
 */
export function refusedCredentials(): OAuthError {
  return new OAuthError('upstream_error', 'Airflow refused the proxy\'s credentials');
}
