import { pino, type Logger, type DestinationStream } from 'pino';

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

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'airflow-token-broker' },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
