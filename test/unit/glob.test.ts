import { compileGlob, globCovers, globsOverlap } from '../../src/policy/glob.js';

const matches = (pattern: string, value: string) => compileGlob(pattern).matches(value);

test('a prefix glob is case-sensitive and anchored at both ends', () => {
  expect(matches('etl_*', 'etl_daily')).toBe(true);
  expect(matches('etl_*', 'etl_')).toBe(true);
  expect(matches('etl_*', 'ETL_daily')).toBe(false);
  expect(matches('etl_*', 'xetl_daily')).toBe(false);
  expect(matches('*_daily', 'etl_daily_v2')).toBe(false);
});

test('regex metacharacters in a pattern are literal', () => {
  expect(matches('a.b', 'a.b')).toBe(true);
  expect(matches('a.b', 'axb')).toBe(false);
  expect(matches('a+b*', 'a+b1')).toBe(true);
  expect(matches('a+b*', 'aab1')).toBe(false);
  expect(matches('[ab]*', 'a1')).toBe(false);
  expect(matches('(x|y)*', '(x|y)z')).toBe(true);
  expect(matches('^etl$*', '^etl$1')).toBe(true);
  expect(matches('a\\d*', 'a1')).toBe(false);
});

test('a lone star matches everything, also the empty string and newlines', () => {
  for (const value of ['', 'etl_daily', 'ETL', 'multi\nline']) expect(matches('*', value)).toBe(true);
});

test('several stars each match any run, in order', () => {
  expect(matches('etl_*_v*', 'etl_daily_v2')).toBe(true);
  expect(matches('etl_*_v*', 'etl__v')).toBe(true);
  expect(matches('*daily*', 'etl_daily_v2')).toBe(true);
  expect(matches('a**b', 'ab')).toBe(true);
  expect(matches('*a*b*', 'ba')).toBe(false);
  expect(matches('*ab*ab', 'ab')).toBe(false);
  expect(matches('ab*ba', 'aba')).toBe(false);
  expect(matches('x*y*z', 'x_y_y_z')).toBe(true);
});

test('a pattern without stars matches only itself', () => {
  const glob = compileGlob('finance_daily');
  expect(glob.literal).toBe(true);
  expect(glob.matches('finance_daily')).toBe(true);
  expect(glob.matches('finance_daily ')).toBe(false);
});

// Regression: globs were compiled to regexes, and `*a*a*a*a*a*a*b` took seconds on 60 "a"s.
test('many stars against a long near-miss id return at once', () => {
  const started = performance.now();
  expect(matches('*a'.repeat(10) + '*b', 'a'.repeat(10_000))).toBe(false);
  expect(performance.now() - started).toBeLessThan(100);
});

describe('globCovers: every id the inner glob matches, the outer one matches too', () => {
  const covers = (outer: string, inner: string) => globCovers(compileGlob(outer), compileGlob(inner));
  test.each([
    ['*', 'anything*'],
    ['etl_*', 'etl_daily'],
    ['etl_*', 'etl_daily_*'],
    ['etl_*', 'etl_*'],
    ['*_daily', 'etl_*_daily'],
    ['a*c', 'ab*bc'],
    ['etl_daily', 'etl_daily'],
  ])('%s covers %s', (outer, inner) => expect(covers(outer, inner)).toBe(true));
  test.each([
    ['etl_daily', 'etl_*'],
    ['etl_*', 'et*'],
    ['etl_*', 'payroll'],
    ['*_daily', '*_daily_v2'],
    ['a*b*c', 'a*c'],
    ['etl_daily_*', '*'],
  ])('%s does not cover %s', (outer, inner) => expect(covers(outer, inner)).toBe(false));
});

describe('globsOverlap: some id matches both', () => {
  const overlap = (a: string, b: string) => globsOverlap(compileGlob(a), compileGlob(b));
  test.each([
    ['etl_*', '*_daily'],
    ['etl_*', 'etl_prod_*'],
    ['a*x*b', 'a*y*b'],
    ['etl_daily', 'etl_*'],
    ['*', 'x'],
  ])('%s overlaps %s', (a, b) => expect(overlap(a, b)).toBe(true));
  test.each([
    ['etl_*', 'payroll_*'],
    ['*_daily', '*_hourly'],
    ['etl_daily', 'etl_hourly'],
    ['etl_daily', 'payroll_*'],
  ])('%s does not overlap %s', (a, b) => expect(overlap(a, b)).toBe(false));
});
