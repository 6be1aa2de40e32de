import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isScalar, type Document } from 'yaml';
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

  problem(path: readonly PropertyKey[], message: string, severity: 'error' | 'warning' = 'error'): SourceProblem {
    const { line, column } = this.locate(path);
    return { file: this.file, line, column, path: formatPath(path), message, severity };
  }

  /** Every issue of a failed schema validation, located. */
  schemaProblems(error: z.ZodError): SourceProblem[] {
    return error.issues.map((issue) => this.problem(issue.path, issue.message));
  }

  /** True when the node at `path` is a plain scalar written in the file (used to spot inline secrets). */
  isScalarAt(path: readonly PropertyKey[]): boolean {
    return isScalar(this.doc.getIn(path as unknown[], true));
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i === 0 ? '' : '.'}${String(k)}`)).join('');
}
