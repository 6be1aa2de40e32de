import { OAuthError } from '../../src/errors/oauth-error.js';
import { checkBodyFraming, parseJsonBody } from '../../src/proxy/request-body.js';

/** The body stage alone: every refusal happens before any upstream call. */
function refusal(fn: () => unknown): OAuthError {
  try {
    fn();
  } catch (err) {
    if (err instanceof OAuthError) return err;
    throw err;
  }
  throw new Error('not refused');
}

describe('body framing', () => {
  it.each(['gzip', 'deflate', 'br', 'identity'])('content-encoding-%s is 415', (encoding) => {
    const err = refusal(() => checkBodyFraming('POST', { 'content-encoding': encoding, 'content-length': '10' }));
    expect(err.status).toBe(415);
  });

  it.each([
    ['GET', { 'content-length': '2' }],
    ['GET', { 'transfer-encoding': 'chunked' }],
    ['DELETE', { 'content-length': '12' }],
    ['HEAD', { 'content-length': '1' }],
  ])('a body on %s is 400 (%j)', (method, headers) => {
    expect(refusal(() => checkBodyFraming(method, headers)).status).toBe(400);
  });

  it.each([
    ['GET', {}],
    ['GET', { 'content-length': '0' }],
    ['DELETE', {}],
    ['POST', { 'content-length': '12', 'content-type': 'application/json' }],
    ['PATCH', { 'transfer-encoding': 'chunked' }],
  ])('%s with %j passes', (method, headers) => {
    expect(() => checkBodyFraming(method, headers)).not.toThrow();
  });
});

describe('body parsing', () => {
  const parse = (text: string) => parseJsonBody(Buffer.from(text), 'application/json');

  it.each([
    ['duplicate-json-keys', '{"dag_ids":["etl_daily"],"dag_ids":["payroll_monthly"]}', /repeats a member name/],
    ['non-finite-number', '{"conf":{"x":1e999}}', /too large/],
    ['deeply-nested-body', `{"conf":${'['.repeat(100_000)}${']'.repeat(100_000)}}`, /deeper than 64/],
    ['invalid-json', '{"a":', /not valid JSON/],
  ])('%s is 400 invalid_request', (_name, text, message) => {
    const err = refusal(() => parse(text));
    expect(err.status).toBe(400);
    expect(err.code).toBe('invalid_request');
    expect(err.description).toMatch(message);
  });

  it('keeps the raw bytes and the value decided on', () => {
    const text = '{"dag_ids":["etl_daily"],"conf":{"n":12345678901234567890}}';
    const body = parse(text);
    expect(body.raw.toString('utf8')).toBe(text);
    expect(body.json).toEqual(JSON.parse(text));
  });
});
