import type { ServerResponse } from 'node:http';
import { buildErrorResponse, type ChallengeContext } from '../errors/error-response.js';
import { OAuthError } from '../errors/oauth-error.js';
import type { Logger } from '../observability/logger.js';
import { isPlainNdjson } from './ndjson-stream.js';

/**
 * The one error writer, for express and the proxy alike: builds the answer, logs it at the level it deserves
 * (the full detail, cause included, whenever the caller is told less than the log), and sends it; when the answer
 * had already begun, it ends an NDJSON stream with the error as its last line, or cuts the connection. Returns the
 * code answered, for the audit.
 */
export function writeError(res: ServerResponse, err: unknown, challenge: ChallengeContext, log: Logger | undefined): string {
  const response = buildErrorResponse(err, challenge);
  const code = response.body.error;
  if (err instanceof OAuthError) {
    const detail = { code, description: err.description, status: response.status, err: err.cause ?? err };
    if (response.level === 'error') log?.error(detail, `request failed: ${err.description}`);
    else if (response.level === 'warn') log?.warn(detail, 'request failed');
    else if (response.level === 'info') log?.info({ code, description: err.description, cause: err.cause }, 'request refused');
    else log?.debug({ code, description: err.description, cause: err.cause }, 'request refused');
  } else {
    log?.error({ err, code }, 'unexpected error');
  }
  if (res.headersSent) {
    // Never a clean end for an answer cut short: an NDJSON stream gets the error as its last line, anything else
    // a reset (a chunked body left unterminated, or fewer bytes than its length said).
    if (isPlainNdjson(res) && !res.writableEnded) res.end(`${JSON.stringify(response.body)}\n`);
    else res.destroy();
    return code;
  }
  const text = JSON.stringify(response.body);
  // Exactly `application/json`, as Airflow types its own answers: JSON has no charset parameter (RFC 8259), and
  // airflowctl shows an error body only under that exact type.
  res.writeHead(response.status, { ...response.headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
  return code;
}
