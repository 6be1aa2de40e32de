import { Writable } from 'node:stream';
import { boundValue, MAX_LOGGED_STRING } from '../../src/observability/bounded-values.js';
import { createLogger } from '../../src/observability/logger.js';

const long = 'x'.repeat(10_000);

it('returns the very same value when everything is within the limits', () => {
  const record = { event: 'proxy_decision', client_id: 'demo-etl', resource_ids: ['etl_daily'], rule: { role: 'r', index: 0 } };
  expect(boundValue(record)).toBe(record);
});

it('cuts strings, arrays, wide and deep objects without touching the input', () => {
  const input = { s: long, a: Array.from({ length: 40 }, (_, i) => i), wide: Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`k${i}`, i])), deep: { a: { b: { c: { d: { e: { f: 1 } } } } } } };
  const out = boundValue(input) as typeof input;
  expect(out.s).toBe('x'.repeat(MAX_LOGGED_STRING) + '…[+9744]');
  expect(out.a).toEqual([...Array.from({ length: 32 }, (_, i) => i), '…[+8]']);
  expect(Object.keys(out.wide)).toHaveLength(65);
  expect((out.wide as Record<string, unknown>)['…']).toBe('…[+6]');
  expect(out.deep).toEqual({ a: { b: { c: { d: { e: '…' } } } } });
  expect(input.s).toHaveLength(10_000); // the caller's object is unchanged
});

it('oversized-error-message-in-logs: an error whose message, cause and fields carry a caller value is cut, stack included', () => {
  let logged = '';
  const logger = createLogger('debug', new Writable({ write: (c, _e, cb) => ((logged += c.toString()), cb()) }));
  const err = Object.assign(new Error(`unknown client ${long}`, { cause: new Error(`directory said ${long}`) }), { client_id: long });
  logger.debug({ err, cause: err.cause, headers: { 'user-agent': long } }, `refused ${long}`);
  expect(logged.length).toBeLessThan(10_000); // 50 KB went in
  const line = JSON.parse(logged) as { err: { message: string; stack: string; client_id: string }; msg: string; headers: Record<string, string> };
  expect(line.err.message).toMatch(/^unknown client x+…\[\+\d+\]$/);
  expect(line.err.stack.split('\n')[0]).toMatch(/…\[\+\d+\]$/);
  expect(line.err.stack).toMatch(/at /); // the frames stay readable
  expect(line.err.client_id).toHaveLength(MAX_LOGGED_STRING + '…[+9744]'.length);
  expect(line.headers['user-agent']).toMatch(/…\[\+9744\]$/);
  expect(line.msg).toMatch(/…\[\+\d+\]$/);
});
