import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import type { AddressInfo, Socket } from 'node:net';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { basic, PROD_AUDIENCE, startBroker, startDirectory, tokenRequest, type Broker } from './broker-harness.js';

/**
 * A stand-in Airflow for fault injection only: it records what it received (method, raw URL, headers, body, and
 * when the connection carrying the request closed) and answers the way `mode` says. Everything a real Airflow
 * can show on demand is tested against a real one (test/helpers/airflow-server.ts).
 */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** `Date.now()` when the request's connection closed, while it was still unanswered or answering. */
  closedAt?: number;
}

export type UpstreamMode =
  | 'ok'
  /** Never answers. */
  | 'slow'
  /** Answers after 300 ms. */
  | 'late'
  /** Closes the connection. */
  | 'drop'
  /** Answers 401 (or `refusal`) to every API call (a bearer token or HTTP Basic). */
  | 'reject-token'
  /** Answers 403 "Forbidden" to every API call: Airflow's permission refusal, relayed as is. */
  | 'forbid'
  /** Sends 200 headers with `content-length: 100`, then nothing. */
  | 'stall-sized-body'
  /** Sends 200 headers of a chunked body, then nothing. */
  | 'stall-chunked-body'
  /** Sends 200 headers of a chunked body and its first chunk, then nothing. */
  | 'stall-mid-body'
  /** Streams NDJSON as Airflow's `/wait` does (no content type, one state line at a time), as `stream` says. */
  | 'ndjson'
  /** Answers every API call with a list of `dagCount` DAGs (`etl_0`, `payroll_1`, ...), one page. */
  | 'dag-list';

/**
 * How the `ndjson` mode streams: `{"state":"running"}` lines `everyMs` apart (the first at once), `lines` of
 * them, and then `{"state":"success"}` and a clean end, or a stall (nothing more), or a reset of the connection.
 * `contentType` is sent when set (Airflow's log stream says `application/x-ndjson`; `/wait` says nothing).
 */
export interface StreamScript {
  everyMs: number;
  lines: number;
  then: 'success' | 'stall' | 'reset';
  contentType?: string;
  /** The `results` of the `success` line (the run's XCom, as Airflow's `/wait` sends them). */
  results?: Record<string, unknown>;
  /** Written after the lines and before `then`, without a newline: a stream cut in the middle of a line. */
  partial?: string;
}

const STAND_IN_PASSWORD = 'stand-in-pass';
const PUBLIC_PATHS = new Set(['/api/v2/version', '/api/v2/monitor/health', '/api/v1/version', '/api/v1/health']);
const STAND_IN_BASIC = `Basic ${Buffer.from(`proxy:${STAND_IN_PASSWORD}`).toString('base64')}`;

export class RecordingUpstream {
  mode: UpstreamMode = 'ok';
  /** How `POST /auth/token` answers: 201 with a token, or this status. */
  loginStatus: 201 | 401 | 500 = 201;
  logins = 0;
  /** API calls carrying a token of login number <= this answer 401 (set to `logins` to expire every token so far). */
  refuseTokensUpTo = 0;
  /** How a refused token is answered: 401, or Airflow 3's 403 "Invalid JWT token" (a signature it cannot verify). */
  refusal: 401 | 403 = 401;
  /** Extra headers on every 200 answer (e.g. Airflow's own `Access-Control-*`, which the proxy must not relay). */
  answerHeaders: Record<string, string> = {};
  stream: StreamScript = { everyMs: 0, lines: 1, then: 'success' };
  dagCount = 20;
  /**
   * Compresses answers when the request accepts gzip. `'airflow'`: as Airflow 3.3.2 does, every answer however
   * small, chunked without a length (its GZipMiddleware sees every body as a stream, since a BaseHTTPMiddleware
   * sits inside it), `Vary: Accept-Encoding`. `'sized'`: from 1024 bytes, with a length (GZipMiddleware on its own).
   */
  gzip: 'airflow' | 'sized' = 'sized';
  readonly seen: SeenRequest[] = [];
  readonly #sockets = new Set<Socket>();
  readonly #server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/auth/token') return this.#login(res);
      const seen: SeenRequest = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) };
      this.seen.push(seen);
      res.on('close', () => (seen.closedAt ??= Date.now()));
      this.#answer(req.socket, res, req.headers.authorization, req.url!, req.headers['accept-encoding']);
    });
  });

  async start(): Promise<void> {
    this.#server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  reset(): void {
    this.mode = 'ok';
    this.loginStatus = 201;
    this.refuseTokensUpTo = 0;
    this.refusal = 401;
    this.answerHeaders = {};
    this.stream = { everyMs: 0, lines: 1, then: 'success' };
    this.dagCount = 20;
    this.gzip = 'sized';
    this.seen.length = 0;
  }

  close(): void {
    this.#sockets.forEach((s) => s.destroy());
    this.#server.close();
  }

  #login(res: ServerResponse): void {
    this.logins++;
    if (this.loginStatus !== 201) {
      res.writeHead(this.loginStatus, { 'content-type': 'application/json' });
      res.end('{"detail":"Invalid credentials"}');
      return;
    }
    res.writeHead(201, { 'content-type': 'application/json' });
    // exp far in the future: the stand-in's token never expires on its own
    const payload = Buffer.from(JSON.stringify({ sub: 'proxy', exp: 4102444800 })).toString('base64url');
    res.end(JSON.stringify({ access_token: `eyJhbGciOiJIUzI1NiJ9.${payload}.c2ln-${this.logins}` }));
  }

  #answer(socket: Socket, res: ServerResponse, authorization: string | undefined, url: string, acceptEncoding: string | undefined): void {
    switch (this.mode) {
      case 'slow':
        return;
      case 'late':
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"dag_id":"etl_daily"}');
        }, 300);
        return;
      case 'drop':
        socket.destroy();
        return;
      case 'stall-sized-body':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        res.flushHeaders();
        return;
      case 'stall-chunked-body':
        res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
        res.flushHeaders();
        return;
      case 'stall-mid-body':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"dag_id":');
        return;
      case 'ndjson':
        return this.#streamLines(socket, res);
    }
    // Airflow's public operations need no credentials at all (Airflow 3 mounts them outside its authenticated router).
    if (PUBLIC_PATHS.has(url)) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"version":"3.3.2","git_version":null}');
      return;
    }
    const login = Number(/-(\d+)$/.exec(authorization ?? '')?.[1] ?? 0);
    // HTTP Basic (an Airflow 2 upstream) is accepted for the stand-in's own FAB user only.
    const refused = authorization?.startsWith('Basic ') ? authorization !== STAND_IN_BASIC : login <= this.refuseTokensUpTo;
    if (this.mode === 'reject-token' || refused) {
      const body = this.refusal === 401 ? '{"detail":"Not authenticated"}' : '{"detail":"Invalid JWT token"}';
      return this.#json(res, this.refusal, body, acceptEncoding);
    }
    if (this.mode === 'dag-list') {
      const dags = Array.from({ length: this.dagCount }, (_, i) => ({ dag_id: `${['etl', 'payroll', 'report'][i % 3]}_${i}`, is_paused: false, tags: [], description: 'x'.repeat(60) }));
      return this.#json(res, 200, JSON.stringify({ dags, total_entries: dags.length }), acceptEncoding);
    }
    if (this.mode === 'forbid') {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end('{"detail":"Forbidden"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': '_token=upstream-secret', server: 'uvicorn', location: 'http://internal/x', ...this.answerHeaders });
    res.end(JSON.stringify({ dag_id: 'etl_daily' }));
  }

  #json(res: ServerResponse, status: number, body: string, acceptEncoding: string | undefined): void {
    const compress = (acceptEncoding ?? '').includes('gzip') && (this.gzip === 'airflow' || Buffer.byteLength(body) >= 1024);
    const data = compress ? gzipSync(body) : Buffer.from(body);
    const headers: Record<string, string | number> = { 'content-type': 'application/json' };
    if (compress) Object.assign(headers, { 'content-encoding': 'gzip', vary: 'Accept-Encoding' });
    if (!compress || this.gzip === 'sized') headers['content-length'] = data.length;
    res.writeHead(status, headers);
    res.end(data);
  }

  #streamLines(socket: Socket, res: ServerResponse): void {
    const { everyMs, lines, then, contentType, results, partial } = this.stream;
    res.writeHead(200, contentType ? { 'content-type': contentType } : {});
    let written = 0;
    const next = () => {
      if (res.destroyed) return;
      if (written < lines) {
        // Airflow writes the line and its newline as two chunks.
        res.write('{"state":"running"}');
        res.write('\n');
        written++;
        return void setTimeout(next, everyMs);
      }
      const end = () => {
        if (then === 'success') res.end(`${JSON.stringify({ state: 'success', ...(results ? { results } : {}) })}\n`);
        else if (then === 'reset') socket.destroy();
      };
      if (partial === undefined) return end();
      // The half line goes out on its own before the end (a reset right after a write would discard it).
      res.write(partial, () => setTimeout(end, 50));
    };
    next();
  }
}

/** A broker whose `prod` deployment is the stand-in (service account, 1 s timeouts), and a demo-etl token for it. */
export interface StandInSetup {
  upstream: RecordingUpstream;
  directory: DevDirectory;
  broker: Broker;
  /** demo-etl: etl-operator (dags etl_*: read, trigger, clear; variables etl_*: read, write). */
  token: string;
  close(): Promise<void>;
}

/**
 * `api: 'v1'` makes `prod` an Airflow 2 deployment (`/api/v1`, service account over HTTP Basic); `timeouts` adds to
 * or replaces the 1 s ones.
 */
export async function startBrokerBeforeStandIn(
  credentials: Record<string, unknown> = {},
  policyFile?: string,
  api: 'v1' | 'v2' = 'v2',
  /** Changes the config further once `prod` points at the stand-in (`upstreamUrl`). */
  configure?: (c: ConfigInput, upstreamUrl: string) => void,
  timeouts: Record<string, string> = {},
): Promise<StandInSetup> {
  const upstream = new RecordingUpstream();
  await upstream.start();
  const directory = await startDirectory();
  process.env.ATB_TEST_STANDIN_PASSWORD = STAND_IN_PASSWORD;
  const broker = await startBroker(directory, {
    policyFile,
    configure: (c) => {
      c.upstreams.prod = {
        audience: PROD_AUDIENCE,
        url: upstream.url,
        api,
        credentials: { mode: 'service-account', username: 'proxy', password: '${ATB_TEST_STANDIN_PASSWORD}', ...credentials },
        timeouts: { connect: '1s', headers: '1s', body: '1s', ...timeouts },
      };
      configure?.(c, upstream.url);
    },
  });
  const token = (await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('demo-etl', 'demo-etl-secret') })).body.access_token as string;
  return {
    upstream,
    directory,
    broker,
    token,
    async close() {
      await broker.close();
      await directory.close();
      upstream.close();
    },
  };
}

/**
 * One stand-in setup for a whole test file (started before its first test, closed after its last), its upstream
 * reset before each test. The returned object is filled in once the setup has started: read it inside tests.
 */
export function useStandIn(...args: Parameters<typeof startBrokerBeforeStandIn>): StandInSetup {
  const setup = {} as StandInSetup;
  beforeAll(async () => void Object.assign(setup, await startBrokerBeforeStandIn(...args)));
  afterAll(() => setup.close());
  beforeEach(() => setup.upstream.reset());
  return setup;
}
