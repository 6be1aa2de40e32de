import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { startServer } from '../../src/server.js';
import { basic, startDirectory } from '../helpers/broker-harness.js';
import { spawnBroker, type BrokerProcess } from '../helpers/broker-process.js';
import { SlowUpstream } from '../helpers/slow-upstream.js';
import { startBrokerBeforeStandIn, type StandInSetup } from '../helpers/recording-upstream.js';

/**
 * Graceful shutdown under load (issue #14, item 2), with the real `serve` process: keep-alive clients against a
 * stand-in Airflow that answers in 600 ms, and a `/wait` stream that outlives the shutdown.
 */

let directory: DevDirectory;
let upstream: SlowUpstream;
let upstreamUrl: string;

beforeAll(async () => {
  process.env.ATB_DRAIN_PW = 'stand-in';
  directory = await startDirectory();
  upstream = new SlowUpstream(600);
  upstreamUrl = await upstream.start();
});
afterAll(async () => {
  upstream.close();
  await directory.close();
});

const GRACE_MS = 8_000;

function brokerConfig(server: string, audit: string): string[] {
  return [
    'issuer: http://127.0.0.1:8400',
    `server: { port: 0, ops: { port: 0 }, shutdown_grace: ${GRACE_MS / 1000}s, shutdown_stream_limit: 2s${server} }`,
    'policy_file: ./policy.yaml',
    'policy_watch: false',
    'directories:',
    `  dev: { issuer: "${directory.issuer}", allow_insecure_http: true, client_credentials: { audience: urn:airflow-token-broker } }`,
    'upstreams:',
    `  prod: { audience: https://airflow.example, url: "${upstreamUrl}", credentials: { mode: service-account, username: proxy, password: "\${ATB_DRAIN_PW}" }, timeouts: { headers: 30s } }`,
    'logging: { level: info }',
    `audit: { destination: ${audit} }`,
  ];
}

interface Answer {
  id: string;
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** `Date.now()` when the answer ended. */
  at: number;
}

/** One HTTP exchange; rejects when the connection fails or the body is cut. */
function exchange(url: string, options: { agent?: Agent | false; method?: string; headers?: Record<string, string>; body?: string }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const id = options.headers?.['x-request-id'] ?? '';
    const req = request(url, { method: options.method ?? 'GET', agent: options.agent ?? false, headers: options.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ id, status: res.statusCode!, headers: res.headers, body, at: Date.now() }));
      res.on('aborted', () => reject(new Error(`${id}: the answer was cut`)));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

async function tokenFrom(broker: BrokerProcess): Promise<string> {
  const res = await exchange(`${broker.url}/oauth2/token`, {
    method: 'POST',
    headers: { authorization: basic('demo-etl', 'demo-etl-secret'), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  expect(res.status).toBe(200);
  return (JSON.parse(res.body) as { access_token: string }).access_token;
}

interface LoadResult {
  /** Every answer to a request sent before SIGTERM. */
  answers: Answer[];
  failures: string[];
  wait: Answer | { failed: string };
  /** `/readyz` of the ops listener from SIGTERM on, in order. */
  readiness: number[];
  /** The last result of new connections tried once readiness said not ready, until one was refused. */
  newConnection: string;
  terminatedAt: number;
  exitedAfterMs: number;
  exit: { code: number | null; signal: NodeJS.Signals | null };
}

/**
 * `clients` keep-alive connections each send calls one after the other for a second, and one `/wait` streams;
 * the clients stop sending, and once their last calls are on the wire (well within the stand-in's 600 ms) the
 * broker gets SIGTERM.
 */
async function loadThenTerminate(broker: BrokerProcess, clients: number): Promise<LoadResult> {
  const token = await tokenFrom(broker);
  const headers = (id: string) => ({ authorization: `Bearer ${token}`, 'x-request-id': id });
  let sending = true;
  const answers: Answer[] = [];
  const failures: string[] = [];
  const agents = Array.from({ length: clients }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
  const loops = agents.map(async (agent, c) => {
    // Staggered, so that calls are in flight at any moment (not in waves every 600 ms).
    await new Promise((r) => setTimeout(r, (c * 600) / clients));
    for (let n = 0; sending; n++) {
      const id = `drain-${c}-${n}`;
      try {
        answers.push(await exchange(`${broker.url}/airflow/prod/api/v2/dags/etl_daily`, { agent, headers: headers(id) }));
      } catch (err) {
        failures.push(`${id}: ${(err as Error).message}`);
      }
    }
  });
  const wait = exchange(`${broker.url}/airflow/prod/api/v2/dags/etl_daily/dagRuns/manual_1/wait?interval=0.2`, { headers: headers('drain-wait') }).catch((err: Error) => ({ failed: err.message }));
  await new Promise((r) => setTimeout(r, 1_000));
  sending = false;
  await new Promise((r) => setTimeout(r, 100));
  const terminated = Date.now();
  broker.child.kill('SIGTERM');
  let exited = false;
  const exit = broker.exited.then((e) => ((exited = true), e));
  const readiness: number[] = [];
  let newConnection = 'not tried';
  const probes = (async () => {
    while (!exited) {
      const res = await exchange(`${broker.opsUrl}/readyz`, {}).catch(() => undefined);
      if (res) readiness.push(res.status);
      // Several workers close their listeners after the primary flips readiness: tried until refused.
      if (res?.status === 503 && newConnection !== 'ECONNREFUSED') {
        newConnection = await exchange(`${broker.url}/healthz`, {}).then(
          (r) => `answered ${r.status}`,
          (err: NodeJS.ErrnoException) => err.code ?? err.message,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const ended = await exit;
  const exitedAfterMs = Date.now() - terminated;
  await Promise.all([...loops, probes]);
  agents.forEach((a) => a.destroy());
  return { answers, failures, wait: await wait, readiness, newConnection, terminatedAt: terminated, exitedAfterMs, exit: ended };
}

function expectDrained(result: LoadResult, clients: number, workers: number, output: string, auditLines: string[]): void {
  // Every request sent before SIGTERM got its whole answer; none was dropped.
  expect(result.failures).toEqual([]);
  expect(result.answers.length).toBeGreaterThan(clients);
  for (const a of result.answers) expect({ id: a.id, status: a.status, body: a.body }).toEqual({ id: a.id, status: 200, body: '{"dag_id":"etl_daily"}' });
  // The calls in flight when shutdown began (in every worker: the primary passes SIGTERM on) were answered with
  // Connection: close; those before, kept alive.
  const begun = [...output.matchAll(/"time":"([^"]+)"[^\n]*"msg":"shutting down"/g)].map((m) => Date.parse(m[1]!));
  expect(begun).toHaveLength(workers);
  // (An answer sent just before may be read here some milliseconds later: 100 ms of margin.)
  const afterSigterm = result.answers.filter((a) => a.at > Math.max(...begun) + 100);
  expect(afterSigterm.length).toBeGreaterThan(clients / 4);
  for (const a of afterSigterm) expect({ id: a.id, connection: a.headers.connection }).toEqual({ id: a.id, connection: 'close' });
  // The /wait stream went on after SIGTERM, then ended cleanly with a line saying the broker is going away.
  expect(result.wait).toMatchObject({ status: 200 });
  const lines = (result.wait as Answer).body.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines.slice(0, -1).every((l) => l.state === 'running')).toBe(true);
  expect(lines.length).toBeGreaterThan(5);
  expect(lines.at(-1)).toMatchObject({ error: 'temporarily_unavailable', error_description: expect.stringContaining('shutting down') });
  // Readiness said not ready from SIGTERM on (at most one probe answered before the signal was handled), and a new
  // connection was refused meanwhile.
  expect(result.readiness.slice(1).every((s) => s === 503)).toBe(true);
  expect(result.readiness.filter((s) => s === 503).length).toBeGreaterThan(3);
  expect(result.newConnection).toBe('ECONNREFUSED');
  // Exit 0 within the grace period.
  expect(result.exit).toEqual({ code: 0, signal: null });
  expect(result.exitedAfterMs).toBeLessThan(GRACE_MS);
  // Every answered decision is in the audit stream.
  const audited = new Map<string, { upstream_status?: number }>();
  for (const line of auditLines) {
    const record = JSON.parse(line) as { event?: string; request_id: string; upstream_status?: number };
    if (record.event === 'proxy_decision') audited.set(record.request_id, record);
  }
  for (const a of result.answers) expect({ id: a.id, audited: audited.get(a.id)?.upstream_status }).toEqual({ id: a.id, audited: 200 });
  expect(audited.has('drain-wait')).toBe(true);
}

const auditLinesOf = (text: string) => text.split('\n').filter((l) => l.includes('"log":"audit"'));

describe('graceful-shutdown-under-load', () => {
  it('one process: readiness flips, new connections are refused, every accepted call is answered and audited, /wait ends with a going-away line, exit 0 within the grace', async () => {
    const broker = await spawnBroker(brokerConfig('', './audit.log'));
    try {
      const result = await loadThenTerminate(broker, 30);
      expectDrained(result, 30, 1, broker.output(), auditLinesOf(readFileSync(join(broker.dir, 'audit.log'), 'utf8')));
    } finally {
      broker.kill();
    }
  }, 60_000);

  it('two workers: the same, with the primary reporting not ready at once', async () => {
    const broker = await spawnBroker(brokerConfig(', workers: 2', 'stderr'), { listeners: 2 });
    try {
      const result = await loadThenTerminate(broker, 30);
      expectDrained(result, 30, 2, broker.output(), auditLinesOf(broker.output()));
    } finally {
      broker.kill();
    }
  }, 60_000);
});

describe('shutdown-grace-runs-out-silently', () => {
  it('a call still unanswered at the end of the grace: the process says so and exits non-zero', async () => {
    const broker = await spawnBroker(brokerConfig('', 'stderr').map((l) => l.replace(`shutdown_grace: ${GRACE_MS / 1000}s, shutdown_stream_limit: 2s`, 'shutdown_grace: 2s, shutdown_stream_limit: 1s')));
    try {
      const token = await tokenFrom(broker);
      const hung = exchange(`${broker.url}/airflow/prod/api/v2/dags/etl_hang`, { headers: { authorization: `Bearer ${token}` } }).then(
        (a) => `answered ${a.status}`,
        () => 'cut',
      );
      await new Promise((r) => setTimeout(r, 300));
      broker.child.kill('SIGTERM');
      const exit = await broker.exited;
      expect(exit.code).toBe(1);
      expect(broker.output()).toMatch(/"in_flight":1[,}].*shutdown grace ran out/);
      expect(await hung).toBe('cut');
    } finally {
      broker.kill();
    }
  }, 30_000);
});

describe('keep-alive-shorter-than-load-balancer-idle-timeout', () => {
  /** Sends a request on `socket` and resolves with the status line of its answer, or `closed`. */
  const ask = (socket: import('node:net').Socket) =>
    new Promise<string>((resolve) => {
      const onData = (c: Buffer) => done(c.toString().split('\r\n')[0]!);
      const onClose = () => done('closed');
      const done = (v: string) => {
        socket.off('data', onData).off('close', onClose);
        resolve(v);
      };
      if (socket.destroyed) return resolve('closed');
      socket.on('data', onData).on('close', onClose);
      socket.write('GET /healthz HTTP/1.1\r\nHost: broker\r\n\r\n');
    });

  async function server(keepAlive?: string) {
    const dir = mkdtempSync(join(tmpdir(), 'atb-keepalive-'));
    writeFileSync(join(dir, 'policy.yaml'), 'version: 1\nroles: {}\n');
    const serverLine = `server: { port: 0, ops: { port: 0 }${keepAlive ? `, keep_alive_timeout: ${keepAlive}` : ''} }`;
    writeFileSync(join(dir, 'config.yaml'), ['issuer: http://127.0.0.1:8400', serverLine, 'policy_file: ./policy.yaml', 'policy_watch: false', 'directories: {}', 'upstreams: {}', 'logging: { level: silent }', 'audit: { destination: stderr }', ''].join('\n'));
    return startServer(join(dir, 'config.yaml'));
  }

  it('a connection idle for longer than Node\'s 5 s default stays usable by default; a configured shorter timeout closes it', async () => {
    const byDefault = await server();
    const shorter = await server('1s').catch(async (err: unknown) => {
      await byDefault.stop();
      throw err;
    });
    try {
      const idle = connect(Number(new URL(byDefault.url).port), '127.0.0.1');
      const closing = connect(Number(new URL(shorter.url).port), '127.0.0.1');
      expect(await ask(idle)).toBe('HTTP/1.1 200 OK');
      expect(await ask(closing)).toBe('HTTP/1.1 200 OK');
      await new Promise((r) => setTimeout(r, 6_000));
      expect(await ask(idle)).toBe('HTTP/1.1 200 OK');
      expect(await ask(closing)).toBe('closed');
      idle.destroy();
      closing.destroy();
    } finally {
      await Promise.all([byDefault.stop(), shorter.stop()]);
    }
  }, 30_000);
});

describe('long-polls-at-the-stream-limit', () => {
  // In process, against the stand-in (its modes show each stage): what `Drain.endLongPolls` does to each call.
  let setup: StandInSetup;
  beforeAll(async () => void (setup = await startBrokerBeforeStandIn({}, undefined, 'v2', undefined, { long_poll: '1h' })));
  afterAll(() => setup.close());
  const call = (path: string) => fetch(`${setup.broker.url}/airflow/prod/api/v2${path}`, { headers: { authorization: `Bearer ${setup.token}` } });
  const WAIT = '/dags/etl_daily/dagRuns/manual_1/wait?interval=0.05';

  it('a streaming /wait ends with the going-away line; one Airflow has not answered yet gets 503 with Retry-After; other calls finish', async () => {
    const { upstream, broker } = setup;
    upstream.mode = 'ndjson';
    upstream.stream = { everyMs: 50, lines: 100_000, then: 'success' };
    const streaming = await call(WAIT);
    expect(streaming.status).toBe(200);
    upstream.mode = 'slow';
    const unanswered = call(WAIT);
    upstream.mode = 'late';
    const ordinary = call('/dags/etl_daily');
    await new Promise((r) => setTimeout(r, 100));
    broker.services.drain.endLongPolls();
    const lines = (await streaming.text()).trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.at(-1)).toMatchObject({ error: 'temporarily_unavailable', error_description: expect.stringContaining('shutting down') });
    expect(lines.slice(0, -1).every((l) => l.state === 'running')).toBe(true);
    const refused = await unanswered;
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toMatchObject({ error: 'temporarily_unavailable' });
    expect((await ordinary).status).toBe(200);
    // A long poll that comes after (on a connection still open) is answered 503 at once.
    upstream.mode = 'ndjson';
    expect((await call(WAIT)).status).toBe(503);
  });
});
