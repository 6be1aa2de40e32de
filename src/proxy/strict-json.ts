/**
 * JSON that every reader reads the same way. `JSON.parse` decides the grammar; before it, one linear,
 * non-recursive pass refuses what readers are free to read differently (RFC 8259 §4 leaves duplicate names
 * and number range to the implementation): a repeated member name in any object (compared after unescaping,
 * so `"a"` and `"\u0061"` are one name), a number that overflows to ±Infinity (Python reads `1e999` as `inf`
 * and Airflow then fails with a 500), and nesting deeper than `MAX_JSON_DEPTH` (Python's parser recurses).
 */

/** Deepest nesting of objects and arrays accepted; the top-level value counts as level 1. */
export const MAX_JSON_DEPTH = 64;

export type StrictJsonProblem = 'invalid' | 'duplicate-key' | 'non-finite-number' | 'too-deep';

export class StrictJsonError extends Error {
  constructor(readonly problem: StrictJsonProblem) {
    super(`JSON refused: ${problem}`);
    this.name = 'StrictJsonError';
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NUMBER_START = /[-0-9]/;
const NUMBER_REST = /[-+.0-9eE]/;

/** An open object (its member names so far, and whether a name comes next) or array (`names` undefined). */
interface Frame {
  names: Set<string> | undefined;
  nameNext: boolean;
}

export function parseStrictJson(text: string): unknown {
  checkStructure(text);
  try {
    return JSON.parse(text);
  } catch {
    throw new StrictJsonError('invalid');
  }
}

/** Walks the text once; on text that is not JSON it may stop early, and `JSON.parse` then refuses it. */
function checkStructure(text: string): void {
  const open: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      const end = stringEnd(text, i);
      const frame = open.at(-1);
      if (frame?.names && frame.nameNext) {
        const name = decodeName(text.slice(i, end + 1));
        if (frame.names.has(name)) throw new StrictJsonError('duplicate-key');
        frame.names.add(name);
        frame.nameNext = false;
      }
      i = end;
    } else if (c === '{' || c === '[') {
      if (open.length === MAX_JSON_DEPTH) throw new StrictJsonError('too-deep');
      open.push({ names: c === '{' ? new Set() : undefined, nameNext: c === '{' });
    } else if (c === '}' || c === ']') {
      open.pop();
    } else if (c === ',') {
      const frame = open.at(-1);
      if (frame?.names) frame.nameNext = true;
    } else if (NUMBER_START.test(c)) {
      let end = i + 1;
      while (end < text.length && NUMBER_REST.test(text[end]!)) end++;
      if (Math.abs(Number(text.slice(i, end))) === Infinity) throw new StrictJsonError('non-finite-number');
      i = end - 1;
    }
  }
}

/** Index of the quote closing the string that opens at `start`. */
function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === BACKSLASH) i++;
    else if (code === QUOTE) return i;
  }
  throw new StrictJsonError('invalid');
}

function decodeName(literal: string): string {
  try {
    return JSON.parse(literal) as string;
  } catch {
    throw new StrictJsonError('invalid');
  }
}
