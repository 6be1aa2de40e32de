import type { IncomingMessage } from 'node:http';
import { OAuthError, invalidRequest } from '../errors/oauth-error.js';

export interface RequestBody {
  raw: Buffer;
  /** The JSON value Airflow would see, or undefined for an empty body. */
  json: unknown;
}

/** Reads the whole request body, refusing more than `limit` bytes. */
const EMPTY = Buffer.alloc(0);

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

/**
 * Parses a body the way Airflow (FastAPI) would read it, or refuses it: a body we cannot read the same way
 * could carry ids we never authorized. Any non-empty body must be UTF-8 JSON (no BOM), with no content type
 * or a JSON one (`application/json`, `application/*+json`).
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
    return { raw, json: JSON.parse(text) };
  } catch {
    throw invalidRequest('the body is not valid JSON');
  }
}
