import { z } from 'zod';

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `500ms`, `30s`, `10m`, `1h`, `7d` (or a bare number of seconds) into milliseconds. */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(value.trim());
  if (!match) return undefined;
  return Number(match[1]) * units[match[2]!]!;
}

/** The inverse of `parseDuration` for display: the largest unit that divides evenly (`600000` -> `10m`). */
export function formatDuration(ms: number): string {
  for (const [unit, size] of Object.entries(units).reverse()) if (ms !== 0 && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/** A schema field holding a duration; parsed to milliseconds. */
export const duration = () =>
  z.union([z.string(), z.number()]).transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration (use e.g. 30s, 10m, 1h)` });
      return z.NEVER;
    }
    return ms;
  })
  // Marks the field for the generated docs; JSON Schema's own `format: duration` means ISO 8601.
  .meta({ 'x-format': 'duration' });
