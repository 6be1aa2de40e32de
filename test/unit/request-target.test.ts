import { BadRequestTarget, checkRequestHeaders, parseRequestTarget } from '../../src/proxy/request-target.js';

/** One attack, one case: each of these could make the proxy authorize one path while Airflow routes another. */
const refused: Array<[string, string]> = [
  ['encoded-slash', '/airflow/prod/api/v2/dags/etl_x%2F..%2Fpayroll_monthly'],
  ['encoded-slash-lowercase', '/airflow/prod/api/v2/variables/a%2fb'],
  ['encoded-dot-segment', '/airflow/prod/api/v2/dags/%2e%2e/connections'],
  ['encoded-dot', '/airflow/prod/api/v2/dags/etl%2Edaily'],
  ['backslash', '/airflow/prod/api/v2/dags\\..\\connections'],
  ['encoded-backslash', '/airflow/prod/api/v2/dags/a%5Cb'],
  ['dot-segment', '/airflow/prod/api/v2/dags/../connections'],
  ['single-dot-segment', '/airflow/prod/api/v2/./connections'],
  ['empty-segment', '/airflow/prod/api/v2//connections'],
  ['trailing-dot-segment', '/airflow/prod/api/v2/dags/..'],
  ['trailing-single-dot-segment', '/airflow/prod/api/v2/dags/.'],
  ['root-only', '/'],
  ['dot-segment-beside-escape', '/airflow/prod/api/v2/dags/../a%20b'],
  ['matrix-parameter-last-segment', '/airflow/prod/api/v2/dags;x=1'],
  ['trailing-slash', '/airflow/prod/api/v2/dags/'],
  ['matrix-parameter', '/airflow/prod/api/v2/dags;x=1/etl_daily'],
  ['encoded-semicolon', '/airflow/prod/api/v2/dags/etl%3Bx'],
  ['encoded-question-mark', '/airflow/prod/api/v2/dags/etl%3Fx'],
  ['encoded-percent', '/airflow/prod/api/v2/dags/etl%252F'],
  ['encoded-nul', '/airflow/prod/api/v2/dags/etl%00'],
  ['encoded-newline', '/airflow/prod/api/v2/dags/etl%0Ax'],
  ['absolute-form', 'http://airflow.internal/api/v2/connections'],
  ['asterisk-form', '*'],
  ['fragment', '/airflow/prod/api/v2/dags#x'],
  ['bad-percent-encoding', '/airflow/prod/api/v2/dags/%zz'],
  ['invalid-utf8', '/airflow/prod/api/v2/dags/%C0%AF'],
  ['raw-space', '/airflow/prod/api/v2/dags/a b'],
  ['raw-non-ascii', '/airflow/prod/api/v2/dags/é'],
];

const refusedQueries: Array<[string, string]> = [
  ['access-token-in-query', 'access_token=eyJ.x.y'],
  ['access-token-in-query-encoded', 'a=1&access%5Ftoken=eyJ.x.y'],
  ['access-token-in-query-encoded-letter', '%61ccess_token=eyJ.x.y'],
  ['access-token-in-query-upper-case', 'Access_Token=eyJ.x.y'],
  ['access-token-in-query-without-value', 'access_token'],
  ['method-override-query-_method', '_method=DELETE'],
  ['method-override-query-encoded', '%5Fmethod=DELETE'],
  ['method-override-query-x-http-method-override', 'X-HTTP-Method-Override=DELETE'],
  ['method-override-query-underscores', 'x_http_method_override=DELETE'],
  ['method-override-query-x-http-method', 'x-http-method=PUT'],
  ['method-override-query-x-method-override', 'x-method-override=PATCH'],
];

describe('query parameters the proxy refuses whatever the operation', () => {
  it.each(refusedQueries)('%s', (_name, query) => {
    expect(() => parseRequestTarget(`/airflow/prod/api/v2/dags/etl_daily?${query}`)).toThrow(BadRequestTarget);
  });

  it('names that only contain those words pass', () => {
    expect(() => parseRequestTarget('/airflow/prod/api/v2/dags?x=access_token&token=1&method_name=x')).not.toThrow();
  });
});

describe('request targets the proxy refuses', () => {
  it.each(refused)('%s', (_name, url) => {
    expect(() => parseRequestTarget(url)).toThrow(BadRequestTarget);
  });
});

describe('request targets the proxy accepts', () => {
  it('keeps the raw path, segments and query', () => {
    const target = parseRequestTarget('/airflow/prod/api/v2/dags?limit=10&dag_id_pattern=etl_%25');
    expect(target).toEqual({
      path: '/airflow/prod/api/v2/dags',
      segments: ['airflow', 'prod', 'api', 'v2', 'dags'],
      query: 'limit=10&dag_id_pattern=etl_%25',
      params: new URLSearchParams('limit=10&dag_id_pattern=etl_%25'),
    });
    expect([...target.params]).toEqual([['limit', '10'], ['dag_id_pattern', 'etl_%']]);
  });

  it('accepts ~ and percent-encoded spaces and unicode', () => {
    expect(parseRequestTarget('/airflow/prod/api/v2/dags/~/dagRuns').segments).toContain('~');
    expect(parseRequestTarget('/airflow/prod/api/v2/variables/my%20key%C3%A9').segments.at(-1)).toBe('my%20key%C3%A9');
  });
});

describe('the plain-path shortcut', () => {
  // A path of plain bytes skips the segment-by-segment check; one with an escape takes it. Both must answer alike.
  it.each([
    ['/airflow/prod/api/v2/dags/etl_daily', ['airflow', 'prod', 'api', 'v2', 'dags', 'etl_daily']],
    ['/airflow/prod/api/v2/dags/etl.daily/dagRuns/manual__2024-01-01T00:00:00+00:00', ['airflow', 'prod', 'api', 'v2', 'dags', 'etl.daily', 'dagRuns', 'manual__2024-01-01T00:00:00+00:00']],
    ['/airflow/prod/api/v2/dags/...', ['airflow', 'prod', 'api', 'v2', 'dags', '...']],
    ['/airflow/prod/api/v2/dags/.hidden', ['airflow', 'prod', 'api', 'v2', 'dags', '.hidden']],
    ['/airflow/prod/api/v2/variables/a%20b', ['airflow', 'prod', 'api', 'v2', 'variables', 'a%20b']],
  ])('%s', (url, segments) => {
    const target = parseRequestTarget(url);
    expect(target.segments).toEqual(segments);
    expect(target.path).toBe(url);
    expect([...target.params]).toEqual([]);
  });

  it('an absent query still parses to no parameters, a fresh object per request', () => {
    const a = parseRequestTarget('/airflow/prod/api/v2/dags');
    const b = parseRequestTarget('/airflow/prod/api/v2/dags');
    expect(a.query).toBe('');
    expect(a.params).not.toBe(b.params);
  });
});

describe('request headers', () => {
  it('refuses a repeated Authorization header', () => {
    expect(() => checkRequestHeaders(['Authorization', 'Bearer a', 'authorization', 'Bearer b'])).toThrow(/repeated authorization/);
  });
  it('refuses a repeated Host header', () => {
    expect(() => checkRequestHeaders(['Host', 'a', 'Host', 'b'])).toThrow(/repeated host/);
  });
  it.each(['X-HTTP-Method-Override', 'X-HTTP-Method', 'X-Method-Override'])('refuses %s', (header) => {
    expect(() => checkRequestHeaders([header, 'DELETE'])).toThrow(BadRequestTarget);
  });
  it.each(['Content-Length', 'Content-Type', 'Transfer-Encoding'])('refuses a repeated %s header', (header) => {
    expect(() => checkRequestHeaders(['Host', 'a', header, '1', 'Accept', 'x', header.toLowerCase(), '2'])).toThrow(`repeated ${header.toLowerCase()} header`);
  });
  it('accepts each single header once, in any order', () => {
    const once = ['Transfer-Encoding', 'chunked', 'Content-Type', 'application/json', 'Host', 'a', 'Authorization', 'Bearer a', 'Content-Length', '2'];
    expect(() => checkRequestHeaders(once)).not.toThrow();
  });
  it('accepts ordinary headers', () => {
    expect(() => checkRequestHeaders(['Host', 'a', 'Accept', 'x', 'Accept', 'y'])).not.toThrow();
  });
});
