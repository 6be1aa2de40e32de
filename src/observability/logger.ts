import { pino, type Logger, type DestinationStream } from 'pino';
import { boundString, boundValue } from './bounded-values.js';

export type { Logger };

/**
 * Paths that may hold credentials. Logs never carry a token, a secret or an Authorization header; the
 * redaction is a second line of defence behind simply not logging request bodies and headers.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  'client_secret',
  '*.client_secret',
  'subject_token',
  '*.subject_token',
  'access_token',
  '*.access_token',
  'token',
  '*.token',
  'password',
  '*.password',
];

/**
 * The service's pino logger. Every value of every line (fields, nested objects, errors and their causes,
 * messages) is cut to the limits of `bounded-values.ts`, here and nowhere else: call sites log freely.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'airflow-token-broker' },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        bindings: (bindings) => boundValue(bindings) as Record<string, unknown>,
        log: (object) => boundValue(object) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          return method.apply(this, args.map((a) => (typeof a === 'string' ? boundString(a) : a)) as Parameters<typeof method>);
        },
      },
    },
    destination,
  );
}
