import type { z } from 'zod';
import { formatProblem, YamlSource, type SourceProblem } from './yaml-source.js';

/** A file that failed validation; carries every problem found, each located at file:line:column. */
export class InvalidFileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: SourceProblem[],
  ) {
    super(`${file} is invalid:\n${problems.map(formatProblem).join('\n')}`);
    this.name = 'InvalidFileError';
  }
}

/** Parses a YAML source against a schema, collecting every problem at once (syntax first, then schema). */
export function validateSource<S extends z.ZodType>(source: YamlSource, schema: S): z.output<S> {
  const syntax = source.syntaxProblems();
  if (syntax.length > 0) throw new InvalidFileError(source.file, syntax);
  const result = schema.safeParse(source.toJS() ?? {});
  if (!result.success) throw new InvalidFileError(source.file, source.schemaProblems(result.error));
  return result.data;
}
