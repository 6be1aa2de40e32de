import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A stand-in Airflow that answers slowly, for drain tests (fault injection: a real Airflow cannot be made to
 * answer every call after a set delay): `POST /auth/token` logs the proxy in, the health check answers at once,
 * `.../wait` streams `{"state":"running"}` lines every 200 ms for ever (a run that outlives any shutdown),
 * `/api/v2/dags/etl_hang` never answers, and every other call answers `{"dag_id":"etl_daily"}` after `delayMs`.
 */
export class SlowUpstream {
  readonly #sockets = new Set<Socket>();
  readonly #server: Server;

  constructor(readonly delayMs = 300) {
    this.#server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/auth/token') {
          const payload = Buffer.from(JSON.stringify({ sub: 'proxy', exp: 4102444800 })).toString('base64url');
          res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: `eyJhbGciOiJIUzI1NiJ9.${payload}.c2ln` }));
        } else if (req.url === '/api/v2/monitor/health') {
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"healthy"}');
        } else if (req.url?.includes('/wait')) {
          res.writeHead(200);
          const line = () => void (res.destroyed || (res.write('{"state":"running"}\n'), setTimeout(line, 200)));
          line();
        } else if (req.url !== '/api/v2/dags/etl_hang') {
          setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"dag_id":"etl_daily"}'), this.delayMs);
        }
      });
    });
    this.#server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  close(): void {
    this.#sockets.forEach((s) => s.destroy());
    this.#server.close();
  }
}
