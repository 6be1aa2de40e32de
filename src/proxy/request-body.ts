import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { OAuthError, invalidRequest } from '../errors/oauth-error.js';
import { MAX_JSON_DEPTH, parseStrictJson, StrictJsonError, type StrictJsonProblem } from './strict-json.js';

export interface RequestBody {
  raw: Buffer;
  /** The JSON value Airflow would see, or undefined for an empty body. */
  json: unknown;
}

const EMPTY = Buffer.alloc(0);

/** Methods that carry no body in Airflow's API (no GET or DELETE operation declares one). */
const BODYLESS_METHODS = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE']);

/** Whether the request headers announce a body (HTTP/1.1 framing: a non-zero length or a transfer coding). */
const announcesBody = (headers: IncomingHttpHeaders) =>
  headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');

/**
 * Refuses, from the headers alone, a body the proxy would not read as Airflow does: any `Content-Encoding`
 * (415: the proxy decides on the bytes it reads, and does not inflate them) and a body on a method that takes
 * none (it was never authorized, yet would be forwarded).
 */
export function checkBodyFraming(method: string, headers: IncomingHttpHeaders): void {
  if (headers['content-encoding'] !== undefined) {
    throw new OAuthError('invalid_request', 'request bodies must not have a Content-Encoding', { status: 415 });
  }
  if (BODYLESS_METHODS.has(method) && announcesBody(headers)) throw invalidRequest(`a ${method} request takes no body`);
}

/** Reads the whole request body, refusing more than `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  // Neither header: HTTP/1.1 says there is no body (most GETs); skip the stream machinery.
  if ((declared === undefined || declared === '0') && req.headers['transfer-encoding'] === undefined) {
    req.resume();
    return EMPTY;
  }
  if (declared !== undefined && Number(declared) > limit) throw new OAuthError('invalid_request', 'request body is too large', { status: 413 });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new OAuthError('invalid_request', 'request body is too large', { status: 413 });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}

const JSON_TYPE = /^application\/(?:json|[^\s/;]+\+json)\s*(?:;|$)/i;

const JSON_PROBLEMS: Record<StrictJsonProblem, string> = {
  invalid: 'the body is not valid JSON',
  'duplicate-key': 'the body repeats a member name in an object',
  'non-finite-number': 'the body has a number too large to represent',
  'too-deep': `the body nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels`,
};

/**
 * Parses a body the way Airflow (FastAPI) would read it, or refuses it: a body we cannot read the same way
 * could carry ids we never authorized. Any non-empty body must be UTF-8 JSON (no BOM), with no content type
 * or a JSON one (`application/json`, `application/*+json`), and strict (`parseStrictJson`: no repeated names,
 * no overflowing numbers, at most `MAX_JSON_DEPTH` levels). The raw bytes are forwarded: once those are
 * refused, they mean to Airflow what the parsed value meant to the decision, while re-serialising would round
 * integers beyond 2^53 in the caller's data (a run's `conf`).
 */
export function parseJsonBody(raw: Buffer, contentType: string | undefined): RequestBody {
  if (raw.length === 0) return { raw, json: undefined };
  if (contentType !== undefined && !JSON_TYPE.test(contentType)) throw invalidRequest('the body must be JSON');
  if (raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf) throw invalidRequest('the body must be UTF-8 JSON without a byte order mark');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw invalidRequest('the body is not valid UTF-8');
  }
  try {
    return { raw, json: parseStrictJson(text) };
  } catch (err) {
    if (err instanceof StrictJsonError) throw invalidRequest(JSON_PROBLEMS[err.problem]);
    throw err;
  }
}
