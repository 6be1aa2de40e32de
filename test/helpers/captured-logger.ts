import { createLogger, type Logger } from '../../src/observability/logger.js';

export interface CapturedLog {
  logger: Logger;
  /** Every line written so far, parsed. */
  lines: Array<Record<string, unknown>>;
  /** The lines of one level, as JSON text (to match against). */
  at(level: 'debug' | 'info' | 'warn' | 'error'): string[];
}

/** A debug-level logger whose JSON lines the test reads back. */
export function capturedLogger(): CapturedLog {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger('debug', { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines, at: (level) => lines.filter((l) => l.level === level).map((l) => JSON.stringify(l)) };
}
