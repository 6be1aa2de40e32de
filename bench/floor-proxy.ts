import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { Pool } from 'undici';
import { serveOnLoopback } from './serve-on-loopback.js';

/**
 * Bench only: a yardstick, not product code. The least a Node proxy in front of Airflow can do per request, on
 * the same platform as ours: raw `node:http`, a `jose` verification of the caller's token cached by its bytes
 * (issuer, audience, expiry and a scope read once per token), one path rule (a regex), the caller's credentials
 * swapped for a fixed upstream token, an undici pool, the answer read whole and written in one go. No request
 * id, no revocation, no catalog, no policy, no audit: what our proxy does beyond this is what the bench weighs.
 *
 * Configured by environment: FLOOR_UPSTREAM (base URL), FLOOR_UPSTREAM_AUTHORIZATION (sent upstream),
 * FLOOR_JWKS_URL, FLOOR_ISSUER, FLOOR_AUDIENCE, FLOOR_PREFIX (stripped from the path, e.g. `/airflow/prod`),
 * FLOOR_PORT (0: any). Prints `{"url": ...}` once listening; exits on SIGTERM, SIGINT or when stdin closes.
 */

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const upstream = new URL(env('FLOOR_UPSTREAM'));
const upstreamAuthorization = env('FLOOR_UPSTREAM_AUTHORIZATION');
const issuer = env('FLOOR_ISSUER');
const audience = env('FLOOR_AUDIENCE');
const prefix = env('FLOOR_PREFIX');
const keys = createRemoteJWKSet(new URL(env('FLOOR_JWKS_URL')));

/** The one rule: DAGs whose id starts with `etl_` may be read with `airflow:read` in the scope. */
const RULE = /^\/api\/v2\/dags\/etl_[A-Za-z0-9_.-]+$/;
const verified = new Map<string, Promise<JWTPayload>>();
const pool = new Pool(upstream.origin, { connections: 64, keepAliveTimeout: 4_000 });

function verify(token: string): Promise<JWTPayload> {
  let claims = verified.get(token);
  if (!claims) {
    claims = jwtVerify(token, keys, { issuer, audience, typ: 'at+jwt' }).then((r) => r.payload);
    if (verified.size >= 50_000) verified.clear();
    verified.set(token, claims);
    claims.catch(() => verified.delete(token));
  }
  return claims;
}

function refuse(res: ServerResponse, status: number, error: string): void {
  const body = JSON.stringify({ error });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '';
  if (!url.startsWith(prefix)) return refuse(res, 404, 'not_found');
  const authorization = req.headers.authorization;
  if (!authorization?.startsWith('Bearer ')) return refuse(res, 401, 'invalid_token');
  let claims: JWTPayload;
  try {
    claims = await verify(authorization.slice(7));
    if ((claims.exp ?? 0) * 1000 <= Date.now()) throw new Error('expired');
  } catch {
    return refuse(res, 401, 'invalid_token');
  }
  const path = url.slice(prefix.length);
  if (req.method !== 'GET' || !RULE.test(path.split('?', 1)[0]!) || typeof claims.scope !== 'string') return refuse(res, 403, 'insufficient_scope');
  const answer = await pool.request({ method: 'GET', path, headers: { authorization: upstreamAuthorization, accept: req.headers.accept ?? '*/*' } });
  const body = Buffer.from(await answer.body.arrayBuffer());
  const type = answer.headers['content-type'];
  res.writeHead(answer.statusCode, { 'content-type': typeof type === 'string' ? type : 'application/json', 'content-length': body.length });
  res.end(body);
}

const server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
  handle(req, res).catch(() => refuse(res, 502, 'upstream_error'));
});
serveOnLoopback(server, Number(process.env.FLOOR_PORT ?? 0));
