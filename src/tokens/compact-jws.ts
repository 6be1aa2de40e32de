/**
 * The one gate every JWT passes before any verification: the strict JWS compact serialization
 * (RFC 7515 §7.1). jose decodes leniently (whitespace, `=` padding, non-zero unused bits, a UTF-8 BOM), so one
 * token could be written as many strings; we accept exactly one spelling:
 * - three non-empty segments of the base64url alphabet, no padding, no whitespace;
 * - each segment is the canonical encoding of its bytes (re-encoding gives the same text);
 * - header and payload are strict UTF-8 (no BOM, no invalid sequences) holding a JSON object.
 *
 * @example
 *   const jws = parseCompactJws(token);
 *   if (!jws) throw new InvalidTokenError('ERR_NOT_COMPACT');
 *   jws.payload.iss; // unverified: only to pick who verifies
 */
export interface CompactJws {
  /** Unverified protected header. */
  header: Record<string, unknown>;
  /** Unverified claims. */
  payload: Record<string, unknown>;
}

const COMPACT = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The decoded segments of a strictly serialized JWS with a JSON payload, or undefined for any other string. */
export function parseCompactJws(token: string): CompactJws | undefined {
  const match = COMPACT.exec(token);
  if (!match) return undefined;
  const [, header, payload, signature] = match as unknown as [string, string, string, string];
  if (!isCanonical(signature)) return undefined;
  const h = jsonObject(header);
  const p = h && jsonObject(payload);
  return h && p ? { header: h, payload: p } : undefined;
}

function isCanonical(segment: string): boolean {
  return Buffer.from(segment, 'base64url').toString('base64url') === segment;
}

function jsonObject(segment: string): Record<string, unknown> | undefined {
  if (!isCanonical(segment)) return undefined;
  try {
    // With ignoreBOM the BOM stays in the text, and JSON.parse refuses it: a BOM is not JSON whitespace.
    const value: unknown = JSON.parse(strictUtf8.decode(Buffer.from(segment, 'base64url')));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
