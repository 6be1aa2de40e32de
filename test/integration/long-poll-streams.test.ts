import { resolve } from 'node:path';
import { basic, tokenRequest, type Broker } from '../helpers/broker-harness.js';
import { startBrokerBeforeStandIn, type RecordingUpstream, type StandInSetup } from '../helpers/recording-upstream.js';

/**
 * Regression tests for "a cut `/wait` stream looks like success" (issue #11, item 4), against the stand-in upstream
 * (fault injection: a stall, a reset, a run outliving the limit). Timeouts: body 1 s, long_poll 3 s.
 */

let setup: StandInSetup;
let upstream: RecordingUpstream;
let broker: Broker;
let token: string;

beforeAll(async () => {
  setup = await startBrokerBeforeStandIn({}, resolve('test/fixtures/policy/etl-log-reader.yaml'), 'v2', undefined, { long_poll: '3s' });
  ({ upstream, broker, token } = setup);
});
afterAll(() => setup.close());
beforeEach(() => upstream.reset());

const WAIT = '/dags/etl_daily/dagRuns/manual_1/wait';
const LOG = '/dags/etl_daily/dagRuns/manual_1/taskInstances/extract/logs/1';

const call = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${broker.url}/airflow/prod/api/v2${path}`, { headers: { authorization: `Bearer ${token}`, ...headers } });

/** The stream read to its end (which must be a clean one: a reset rejects), as parsed NDJSON lines. */
async function lines(res: Response): Promise<Record<string, unknown>[]> {
  const text = await res.text();
  expect(text.endsWith('\n')).toBe(true);
  return text.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('cut-wait-stream-looks-like-success', () => {
  it('upstream stalls mid-stream: the stream ends with an upstream_timeout NDJSON line', async () => {
    upstream.mode = 'ndjson';
    upstream.stream = { everyMs: 0, lines: 1, then: 'stall' };
    const started = Date.now();
    const res = await call(`${WAIT}?interval=0.1`);
    expect(res.status).toBe(200);
    const got = await lines(res);
    expect(got[0]).toEqual({ state: 'running' });
    expect(got.at(-1)).toMatchObject({ error: 'upstream_timeout', error_description: expect.any(String) });
    // The pause limit of a long poll is its `interval` plus timeouts.body: 1.1 s here, not the 3 s limit.
    expect(Date.now() - started).toBeLessThan(2_900);
  });

  it('upstream resets the connection mid-stream: the stream ends with an upstream_error NDJSON line', async () => {
    upstream.mode = 'ndjson';
    upstream.stream = { everyMs: 50, lines: 3, then: 'reset' };
    const got = await lines(await call(`${WAIT}?interval=0.05`));
    expect(got.slice(0, 3)).toEqual([{ state: 'running' }, { state: 'running' }, { state: 'running' }]);
    expect(got).toHaveLength(4);
    expect(got[3]).toMatchObject({ error: 'upstream_error', error_description: expect.any(String) });
  });

  it('a run outliving timeouts.long_poll: the stream is cut at the limit with an upstream_timeout line, and the upstream call is closed', async () => {
    upstream.mode = 'ndjson';
    upstream.stream = { everyMs: 200, lines: 1_000, then: 'success' };
    const started = Date.now();
    const got = await lines(await call(`${WAIT}?interval=0.2`));
    const ended = Date.now();
    expect(ended - started).toBeGreaterThanOrEqual(2_900);
    expect(ended - started).toBeLessThan(4_500);
    expect(got.length).toBeGreaterThan(5);
    expect(got.slice(0, -1).every((l) => l.state === 'running')).toBe(true);
    expect(got.at(-1)).toMatchObject({ error: 'upstream_timeout', error_description: expect.stringContaining('long_poll') });
    await new Promise((r) => setTimeout(r, 100));
    expect(upstream.seen[0]!.closedAt).toBeDefined();
  });

  it('pauses longer than timeouts.body but within the interval asked for are no stall: the stream reaches the final state', async () => {
    upstream.mode = 'ndjson';
    upstream.stream = { everyMs: 1_400, lines: 2, then: 'success' };
    const got = await lines(await call(`${WAIT}?interval=1.5`));
    expect(got).toEqual([{ state: 'running' }, { state: 'running' }, { state: 'success' }]);
  });

  it('a log streamed as NDJSON (application/x-ndjson) that stalls ends with an upstream_timeout line too', async () => {
    upstream.mode = 'ndjson';
    upstream.stream = { everyMs: 0, lines: 1, then: 'stall', contentType: 'application/x-ndjson' };
    const res = await call(LOG, { accept: 'application/x-ndjson' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    const got = await lines(res);
    expect(got.at(-1)).toMatchObject({ error: 'upstream_timeout' });
  });
});

describe('cut-mid-line-stream-error-glued-to-the-partial-line', () => {
  it('a log stream cut in the middle of a line: the error line stands on a line of its own after the partial one', async () => {
    upstream.mode = 'ndjson';
    upstream.stream = { everyMs: 0, lines: 1, then: 'reset', contentType: 'application/x-ndjson', partial: '{"state":"runn' };
    const res = await call(LOG, { accept: 'application/x-ndjson' });
    expect(res.status).toBe(200);
    const text = await res.text();
    const got = text.trimEnd().split('\n');
    expect(got).toHaveLength(3);
    expect(JSON.parse(got[0]!)).toEqual({ state: 'running' });
    // What Airflow sent is relayed as it came; the proxy's error line does not extend it.
    expect(got[1]).toBe('{"state":"runn');
    expect(JSON.parse(got[2]!)).toMatchObject({ error: 'upstream_error', error_description: expect.any(String) });
  });

  it('a /wait stream cut in the middle of a line: the half line never reaches the caller, the error line does', async () => {
    upstream.mode = 'ndjson';
    upstream.stream = { everyMs: 0, lines: 1, then: 'stall', partial: '{"state":"succ' };
    const got = await lines(await call(`${WAIT}?interval=0.1`));
    expect(got[0]).toEqual({ state: 'running' });
    expect(got).toHaveLength(2);
    expect(got[1]).toMatchObject({ error: 'upstream_timeout' });
  });
});

describe('wait-results-leak-xcom-without-read-xcom', () => {
  // Airflow checks XCom access against the user it sees: the proxy's own, in service-account mode.
  const results = { extract: 'secret-return-value' };

  it('a token that may read the DAG but not its XCom gets the run states without their results', async () => {
    upstream.mode = 'ndjson';
    upstream.stream = { everyMs: 0, lines: 2, then: 'success', results };
    const res = await call(`${WAIT}?interval=0.1&result=extract`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain('secret-return-value');
    expect(text.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual([{ state: 'running' }, { state: 'running' }, { state: 'success' }]);
  });

  it('a token that may read its XCom gets the results', async () => {
    const reader = (await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('svc-reporting', 'svc-reporting-secret') })).body.access_token as string;
    upstream.mode = 'ndjson';
    upstream.stream = { everyMs: 0, lines: 1, then: 'success', results };
    const res = await fetch(`${broker.url}/airflow/prod/api/v2${WAIT}?interval=0.1`, { headers: { authorization: `Bearer ${reader}` } });
    expect((await lines(res)).at(-1)).toEqual({ state: 'success', results });
  });
});
