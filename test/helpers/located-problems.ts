import { InvalidFileError } from '../../src/config/validate-source.js';
import { formatProblem } from '../../src/config/yaml-source.js';

/** The formatted problems `load` fails with, each with `prefix` (usually the file name and a colon) cut off. */
export function locatedProblems(load: () => unknown, prefix = ''): string[] {
  try {
    load();
  } catch (error) {
    if (!(error instanceof InvalidFileError)) throw error;
    return error.problems.map((p) => formatProblem(p).replace(prefix, ''));
  }
  throw new Error('loaded without problems');
}
