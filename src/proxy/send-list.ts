import type { ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { acceptsGzip } from '../http/content-coding.js';
import { addVary } from '../http/vary.js';

const gzipped = promisify(gzip);

/** Smaller answers are sent as they are (GZipMiddleware's default `minimum_size`): gzip would save little. */
const COMPRESS_FROM = 1024;

/**
 * Sends an answer the proxy built itself (a filtered list, a change applied to each permitted match): gzip when the
 * caller accepts it and it is at least 1 kB; `Vary: Accept-Encoding` either way.
 * Compressed off the event loop (zlib's thread pool): a filtered list may be large.
 */
export async function sendList(res: ServerResponse, status: number, body: unknown, acceptEncoding: string | undefined): Promise<void> {
  const text = Buffer.from(JSON.stringify(body ?? null));
  const compress = text.length >= COMPRESS_FROM && acceptsGzip(acceptEncoding);
  const data = compress ? await gzipped(text, { level: 5 }) : text;
  addVary(res, 'Accept-Encoding');
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': data.length, ...(compress ? { 'content-encoding': 'gzip' } : {}) });
  res.end(data);
}

/** Sends a small JSON answer the proxy wrote itself (an empty filtered batch, the Airflow key set), as it is. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body ?? null);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
