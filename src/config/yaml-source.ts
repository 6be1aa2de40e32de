import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isMap, isScalar, type Document } from 'yaml';
import type { z } from 'zod';

/** One problem found in a YAML file, located for a human: `file:line:column key.path: message`. */
export interface SourceProblem {
  file: string;
  line: number;
  column: number;
  path: string;
  message: string;
  severity: 'error' | 'warning';
}

export function formatProblem(p: SourceProblem): string {
  const where = `${p.file}:${p.line}:${p.column}`;
  return `${where} ${p.severity}: ${p.path ? `${p.path}: ` : ''}${p.message}`;
}

/** A YAML file parsed with positions kept, so that later validation can point at lines. */
export class YamlSource {
  private constructor(
    readonly file: string,
    readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
  ) {}

  static read(file: string): YamlSource {
    return YamlSource.parse(file, readFileSync(file, 'utf8'));
  }

  static parse(file: string, text: string): YamlSource {
    const lines = new LineCounter();
    // uniqueKeys: a key given twice is an error, not "last one wins".
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    return new YamlSource(file, doc, lines);
  }

  /** YAML syntax errors, located. */
  syntaxProblems(): SourceProblem[] {
    return this.doc.errors.map((e) => {
      const pos = this.lines.linePos(e.pos[0]);
      return { file: this.file, line: pos.line, column: pos.col, path: '', message: e.message.split('\n')[0]!, severity: 'error' };
    });
  }

  toJS(): unknown {
    return this.doc.toJS({ maxAliasCount: 100 });
  }

  /** Locates the deepest node that exists along `path` (a missing key points at its parent). */
  locate(path: readonly PropertyKey[]): { line: number; column: number } {
    for (let depth = path.length; depth >= 0; depth--) {
      const node = this.doc.getIn(path.slice(0, depth) as unknown[], true) as { range?: [number, number, number] } | undefined;
      if (node && typeof node === 'object' && node.range) {
        const pos = this.lines.linePos(node.range[0]);
        return { line: pos.line, column: pos.col };
      }
    }
    return { line: 1, column: 1 };
  }

  /** Locates the key (not the value) at the end of `path`; falls back to `locate`. */
  locateKey(path: readonly PropertyKey[]): { line: number; column: number } {
    const parent = this.doc.getIn(path.slice(0, -1) as unknown[], true);
    const key = isMap(parent) ? parent.items.find((p) => isScalar(p.key) && String(p.key.value) === String(path.at(-1)))?.key : undefined;
    if (!isScalar(key) || !key.range) return this.locate(path);
    const pos = this.lines.linePos(key.range[0]);
    return { line: pos.line, column: pos.col };
  }

  problem(
    path: readonly PropertyKey[],
    message: string,
    severity: 'error' | 'warning' = 'error',
    at: { line: number; column: number } = this.locate(path),
  ): SourceProblem {
    return { file: this.file, line: at.line, column: at.column, path: formatPath(path), message, severity };
  }

  /** Every issue of a failed schema validation, located. */
  schemaProblems(error: z.ZodError): SourceProblem[] {
    return error.issues.flatMap((issue) => {
      // zod reports bad keys on their map; point at each key instead, so the line is the one to fix.
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((key) => this.problem([...issue.path, key], 'unknown key', 'error', this.locateKey([...issue.path, key])));
      }
      if (issue.code === 'invalid_key') {
        const reason = issue.issues[0]?.message ?? issue.message;
        return [this.problem(issue.path, `invalid name "${String(issue.path.at(-1))}": ${reason}`, 'error', this.locateKey(issue.path))];
      }
      if (issue.code === 'invalid_type' && issue.path.length > 0 && !this.doc.hasIn(issue.path)) {
        return [this.problem(issue.path, 'missing required key')];
      }
      return [this.problem(issue.path, issue.message)];
    });
  }

  /** True when the node at `path` is a plain scalar written in the file (used to spot inline secrets). */
  isScalarAt(path: readonly PropertyKey[]): boolean {
    return isScalar(this.doc.getIn(path as unknown[], true));
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i === 0 ? '' : '.'}${String(k)}`)).join('');
}
