import type { ServerResponse } from 'node:http';

/**
 * Whether an answer already begun is an NDJSON stream the proxy can still add a line to: `application/x-ndjson`
 * and not content-encoded (a line appended to a gzip stream would corrupt it). Reads the headers set on `res`.
 */
export function isPlainNdjson(res: ServerResponse): boolean {
  const type = String(res.getHeader('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  const encoding = String(res.getHeader('content-encoding') ?? 'identity').trim().toLowerCase();
  return type === 'application/x-ndjson' && encoding === 'identity';
}
