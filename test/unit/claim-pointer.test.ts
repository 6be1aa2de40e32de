import { claimAt, claimMatches, parseClaimName, parseClaimPointer, pointerTo } from '../../src/policy/claim-pointer.js';

/** RFC 6901 pointers into token claims (issue #8 item 1): parsed once, read per token, matched on two shapes only. */

describe('parseClaimPointer', () => {
  test.each<[string, string[]]>([
    ['/realm_access/roles', ['realm_access', 'roles']],
    ['/resource_access/airflow/roles', ['resource_access', 'airflow', 'roles']],
    ['/https:~1~1example.com~1roles', ['https://example.com/roles']],
    ['/a~0b', ['a~b']],
    // ~01 is "~1" as text: ~1 is unescaped first, then ~0 (RFC 6901 §4), never "/".
    ['/~01', ['~1']],
    ['/realm_access.roles', ['realm_access.roles']],
    ['/', ['']],
  ])('%s reads %j', (text, tokens) => {
    expect(parseClaimPointer(text)).toEqual({ source: text, tokens });
  });

  test.each([
    ['a dotted path', 'realm_access.roles'],
    ['a plain name', 'roles'],
    ['the whole payload', ''],
    ['a bare ~', '/a~b'],
    ['~ at the end', '/roles~'],
    ['~2', '/a~2'],
  ])('%s (%j) is not a pointer to a claim', (_, text) => {
    expect(parseClaimPointer(text)).toBeUndefined();
  });

  test('pointerTo escapes what parseClaimPointer unescapes', () => {
    const names = ['https://example.com/roles', 'a~b', 'plain'];
    expect(parseClaimPointer(pointerTo(names))?.tokens).toEqual(names);
    expect(pointerTo(['realm_access', 'roles'])).toBe('/realm_access/roles');
  });
});

describe('parseClaimName (directories.<name>.claims.groups)', () => {
  test('a plain name is one top-level claim, never split at dots', () => {
    expect(parseClaimName('realm_access.roles').tokens).toEqual(['realm_access.roles']);
    expect(parseClaimName('groups').tokens).toEqual(['groups']);
  });

  test('a leading / makes it a pointer', () => {
    expect(parseClaimName('/realm_access/roles').tokens).toEqual(['realm_access', 'roles']);
  });
});

describe('claimAt', () => {
  const claims = {
    realm_access: { roles: ['airflow-etl', 'offline_access'] },
    resource_access: { airflow: { roles: ['reader'] } },
    'https://example.com/roles': ['etl'],
    'realm_access.roles': ['dotted'],
    list: [{ roles: ['x'] }],
  };
  const at = (text: string) => claimAt(claims, parseClaimPointer(text)!);

  test('walks nested objects', () => {
    expect(at('/realm_access/roles')).toEqual(['airflow-etl', 'offline_access']);
    expect(at('/resource_access/airflow/roles')).toEqual(['reader']);
  });

  test('reads URL-named and dotted top-level claims by their escaped names', () => {
    expect(at('/https:~1~1example.com~1roles')).toEqual(['etl']);
    expect(at('/realm_access.roles')).toEqual(['dotted']);
  });

  test('a missing step is undefined, and arrays are never indexed', () => {
    expect(at('/realm_access/groups')).toBeUndefined();
    expect(at('/nothing/here')).toBeUndefined();
    expect(at('/list/0/roles')).toBeUndefined();
    expect(at('/realm_access/roles/0')).toBeUndefined();
  });

  test('inherited properties are not claims', () => {
    expect(at('/realm_access/constructor')).toBeUndefined();
    expect(at('/__proto__')).toBeUndefined();
    expect(at('/toString')).toBeUndefined();
  });
});

describe('claimMatches: a string equal to a value, or an array of strings containing one', () => {
  const accepted = new Set(['airflow-etl']);

  test.each<[string, unknown, boolean]>([
    ['the string', 'airflow-etl', true],
    ['an array containing it', ['offline_access', 'airflow-etl'], true],
    ['another string', 'airflow-etl-admin', false],
    ['another case', 'Airflow-ETL', false],
    ['an array without it', ['offline_access'], false],
    ['an empty array', [], false],
    ['absent', undefined, false],
    ['null', null, false],
    ['a number', 5, false],
    ['an object holding it', { roles: ['airflow-etl'] }, false],
    ['an array holding a non-string too', ['airflow-etl', 5], false],
    ['a nested array', [['airflow-etl']], false],
  ])('%s: %j -> %s', (_, value, expected) => {
    expect(claimMatches(value, accepted)).toBe(expected);
  });
});
