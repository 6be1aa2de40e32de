import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';

/** The content codings the proxy can decode (node:zlib), so it can always read the small refusals it must tell apart. */
const DECODERS = new Map<string, (data: Buffer, options: { maxOutputLength: number }) => Buffer>([
  ['gzip', gunzipSync],
  ['x-gzip', gunzipSync],
  ['deflate', inflateSync],
  ['br', brotliDecompressSync],
]);

const coding = (part: string) => part.split(';')[0]!.trim().toLowerCase();

/**
 * The `Accept-Encoding` the proxy sends Airflow for a caller's `Accept-Encoding`: the caller's list cut to the codings
 * the proxy can decode (`gzip`, `deflate`, `br`, `identity`, with their q-values), or `identity` when none is left
 * or the caller sent none (without the header, RFC 9110 would let Airflow pick any coding).
 * `upstreamAcceptEncoding('gzip, br;q=0.5, zstd')` is `'gzip, br;q=0.5'`.
 */
export function upstreamAcceptEncoding(header: string | undefined): string {
  if (!header) return 'identity';
  const kept = header.split(',').map((part) => part.trim()).filter((part) => coding(part) === 'identity' || DECODERS.has(coding(part)));
  return kept.length > 0 ? kept.join(', ') : 'identity';
}

/** Whether `Accept-Encoding` accepts gzip: listed (or `*`) with a q-value above 0 (RFC 9110 §12.5.3). */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  let wildcard = false;
  for (const part of header.split(',')) {
    const name = coding(part);
    const q = /;\s*q=([0-9.]*)/i.exec(part);
    const accepted = q === null || Number(q[1]) > 0;
    if (name === 'gzip' || name === 'x-gzip') return accepted;
    if (name === '*') wildcard = accepted;
  }
  return wildcard;
}

/**
 * A body decoded from its `Content-Encoding`, if it decodes to at most `maxBytes` (a small body can inflate a
 * thousandfold): `undefined` when it does not, or when the coding is unknown or stacked.
 */
export function decodeBody(body: Buffer, contentEncoding: string | string[] | undefined, maxBytes: number): Buffer | undefined {
  if (typeof contentEncoding !== 'string') return contentEncoding === undefined && body.length <= maxBytes ? body : undefined;
  const name = contentEncoding.trim().toLowerCase();
  if (name === 'identity') return body.length <= maxBytes ? body : undefined;
  const decode = DECODERS.get(name);
  if (!decode) return undefined;
  try {
    return decode(body, { maxOutputLength: maxBytes });
  } catch {
    return undefined;
  }
}
