import { MAX_JSON_DEPTH, parseStrictJson, StrictJsonError, type StrictJsonProblem } from '../../src/proxy/strict-json.js';

const nested = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);

const refused: Array<[string, string, StrictJsonProblem]> = [
  ['duplicate top-level names', '{"dag_ids":["a"],"dag_ids":["b"]}', 'duplicate-key'],
  ['duplicate names spelled with an escape', '{"dag_ids":1,"dag\\u005fids":2}', 'duplicate-key'],
  ['duplicate names deep inside', '{"conf":{"x":[{"a":1,"b":{"c":1,"c":2}}]}}', 'duplicate-key'],
  ['duplicate names after a nested object', '{"a":{"b":1},"a":2}', 'duplicate-key'],
  ['an overflowing number', '{"x":1e999}', 'non-finite-number'],
  ['a negative overflowing number', '[-1e400]', 'non-finite-number'],
  ['an overflowing number as the whole document', '1E+309', 'non-finite-number'],
  ['one level too deep', nested(MAX_JSON_DEPTH + 1), 'too-deep'],
  ['100,000 levels', nested(100_000), 'too-deep'],
  ['100,000 unclosed levels', '{"a":'.repeat(100_000), 'too-deep'],
  ['not JSON', '{"a":1,}', 'invalid'],
  ['an unterminated string', '{"a', 'invalid'],
  ['NaN', '{"a":NaN}', 'invalid'],
];

describe('JSON the proxy refuses', () => {
  it.each(refused)('%s', (_name, text, problem) => {
    let thrown: unknown;
    try {
      parseStrictJson(text);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(StrictJsonError);
    expect((thrown as StrictJsonError).problem).toBe(problem);
  });
});

describe('JSON the proxy accepts, exactly as JSON.parse reads it', () => {
  it.each([
    ['the same name in sibling objects', '[{"a":1},{"a":2}]'],
    ['the same name at two depths', '{"a":{"a":{"a":1}}}'],
    ['names that differ only in case', '{"a":1,"A":2}'],
    ['a name inside a string value', '{"a":"\\"a\\":1","b":"a"}'],
    ['quotes and backslashes in names', '{"a\\\\":1,"a\\"":2,"a":3}'],
    ['large but finite numbers', '[1.7976931348623157e308,-1e308,1e-999,0,-0.5e-3]'],
    ['exactly the deepest nesting allowed', nested(MAX_JSON_DEPTH)],
    ['scalars', '"x"'],
  ])('%s', (_name, text) => {
    expect(parseStrictJson(text)).toEqual(JSON.parse(text));
  });
});
