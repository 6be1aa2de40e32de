import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader, exportSPKI, importJWK, type JWK } from 'jose';
import type { BenchContext } from './bench-context.js';
import { brokerSigner } from './distinct-tokens.js';
import { freePort, waitUntilReady } from './processes.js';
import { dagAnswer, dagScenario, type Scenario } from './scenarios.js';
import { startFloor, startStandIn } from './services.js';
import { ROOT, STAND_IN, type AnchorId } from './settings.js';

/**
 * The anchors of the proxy comparison, each in front of the stand-in with the same broker token: the floor
 * proxy (bench/floor-proxy.ts), HAProxy with `jwt_verify`, oauth2-proxy. Each is refused a bad token before it
 * is measured: an anchor that admits a forged, foreign or expired token is an error, not a figure.
 */

export const OAUTH2_PROXY_VERSION = 'v7.15.6';
export const OAUTH2_PROXY_DIR = join(homedir(), '.cache/airflow-token-broker', `oauth2-proxy-${OAUTH2_PROXY_VERSION}`);
const OAUTH2_PROXY_BUILD = join(ROOT, 'scripts/build-oauth2-proxy.sh');
/** The one path rule of the floor proxy and of HAProxy (the broker's policy lets etl-operator read etl_* DAGs). */
const PATH_RULE = '^/api/v2/dags/etl_[A-Za-z0-9_.-]+$';

export interface AnchorInputs {
  brokerUrl: string;
  /** The broker's token for the stand-in's audience: every target gets this one. */
  brokerToken: string;
  standInUrl: string;
  standInToken: string;
  /** The broker's path prefix of the stand-in upstream, `/airflow/prod`: the floor and HAProxy strip it. */
  prefix: string;
}

export type AnchorOutcome = { scenario: Scenario } | { skipped: string } | { error: string };

export async function startAnchor(ctx: BenchContext, id: AnchorId, inputs: AnchorInputs): Promise<AnchorOutcome> {
  try {
    const scenario = await (id === 'anchor-floor' ? floorAnchor : id === 'anchor-haproxy' ? haproxyAnchor : oauth2ProxyAnchor)(ctx, inputs);
    if ('skipped' in scenario) {
      process.stderr.write(`${id} skipped: ${scenario.skipped}\n`);
      return scenario;
    }
    const problem = await refusesBadTokens(ctx, scenario, inputs.brokerToken);
    if (problem) return { error: `${scenario.title}: ${problem}` };
    return { scenario };
  } catch (err) {
    return { error: `${id}: ${err instanceof Error ? err.message : String(err)}` };
  }
}

async function floorAnchor(ctx: BenchContext, inputs: AnchorInputs): Promise<Scenario> {
  const floor = await startFloor(ctx, inputs);
  return dagScenario('anchor-floor', 'floor: minimal Node proxy', floor.url + inputs.prefix, inputs.brokerToken, ['floor', 'stand-in']);
}

/**
 * The preflight of an anchor: the broker token gets the DAG; a token with a broken signature, one for another
 * audience and one past its `exp` (both signed with the broker's key) are refused with 401 or 403.
 */
async function refusesBadTokens(ctx: BenchContext, s: Scenario, brokerToken: string): Promise<string | undefined> {
  const get = async (token: string) => {
    const res = await fetch(s.url, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: await res.text() };
  };
  const good = await get(brokerToken);
  const refused = dagAnswer(good.status, good.body);
  if (refused) return `the broker's token was not served the DAG (${refused})`;
  const { sign } = await brokerSigner(brokerToken, join(ctx.tmp, 'keys'));
  const now = Math.floor(Date.now() / 1000);
  const [head, payload, signature] = brokerToken.split('.') as [string, string, string];
  // Flip one character in the middle of the signature: still base64url, no longer the signature.
  const mid = Math.floor(signature.length / 2);
  const forged = `${head}.${payload}.${signature.slice(0, mid)}${signature[mid] === 'A' ? 'B' : 'A'}${signature.slice(mid + 1)}`;
  const bad: [string, string][] = [
    ['a bad signature', forged],
    ['a token for another audience', await sign({ aud: 'https://airflow.other.bench' })],
    ['an expired token', await sign({ iat: now - 7_200, nbf: now - 7_200, exp: now - 3_600 })],
  ];
  for (const [what, token] of bad) {
    const answer = await get(token);
    if (answer.status !== 401 && answer.status !== 403) return `${what} was not refused (HTTP ${answer.status}: ${answer.body.slice(0, 200)})`;
  }
  return undefined;
}

/** HAProxy on PATH, or Debian's package installed when running as root; undefined (with why) otherwise. */
function haproxyVersion(): { version: string } | { skipped: string } {
  const probe = () => spawnSync('haproxy', ['-v'], { encoding: 'utf8' });
  let found = probe();
  if (found.error && process.getuid?.() === 0) {
    process.stderr.write('haproxy is not on PATH; installing Debian package haproxy (apt-get)...\n');
    spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy'], { stdio: ['ignore', 'ignore', 'inherit'] });
    found = probe();
  }
  if (found.error) return { skipped: 'haproxy is not on PATH (`apt-get install -y haproxy` on Debian/Ubuntu)' };
  return { version: found.stdout.split('\n')[0]!.trim() };
}

/** The broker's public signing key as SPKI PEM, from `<tmp>/keys/<kid>.json` (kid of the run's token). */
async function brokerPublicKeyPem(ctx: BenchContext, token: string): Promise<string> {
  const { kid, alg } = decodeProtectedHeader(token);
  if (!kid || alg !== 'ES256') throw new Error(`the broker token is not ES256 with a kid (alg ${String(alg)})`);
  const { private_jwk: jwk } = JSON.parse(readFileSync(join(ctx.tmp, 'keys', `${kid}.json`), 'utf8')) as { private_jwk: JWK };
  const { d: _private, ...publicJwk } = jwk;
  const key = await importJWK(publicJwk, alg);
  if (key instanceof Uint8Array) throw new Error('the broker key is not an asymmetric key');
  return exportSPKI(key);
}

/** The HAProxy configuration of one run (bench/README.md shows it). */
export function haproxyConfig(o: { port: number; keyFile: string; issuer: string; audience: string; role: string; prefix: string; upstream: URL; upstreamToken: string }): string {
  const refuse = (status: number, error: string) =>
    `http-request return status ${status} content-type application/json string '{"error":"${error}"}' hdr WWW-Authenticate 'Bearer error="${error}"'`;
  return `global
  nbthread 1
  maxconn 4096

defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 30s
  option http-keep-alive

frontend bench
  bind 127.0.0.1:${o.port}
  http-request return status 200 if { path /healthz }
  http-request return status 404 unless { path_beg ${o.prefix}/ }
  # The caller's token, verified on every request: ES256 signature, then iss, aud, exp and the role in scope.
  http-request set-var(txn.bearer) http_auth_bearer
  http-request set-var(txn.alg) var(txn.bearer),jwt_header_query('$.alg')
  ${refuse(401, 'invalid_token')} unless { var(txn.alg) -m str ES256 }
  ${refuse(401, 'invalid_token')} unless { var(txn.bearer),jwt_verify(txn.alg,"${o.keyFile}") -m int 1 }
  ${refuse(401, 'invalid_token')} unless { var(txn.bearer),jwt_payload_query('$.iss') -m str ${o.issuer} }
  ${refuse(401, 'invalid_token')} unless { var(txn.bearer),jwt_payload_query('$.aud') -m str ${o.audience} }
  http-request set-var(txn.exp) var(txn.bearer),jwt_payload_query('$.exp','int')
  http-request set-var(txn.now) date()
  ${refuse(401, 'invalid_token')} unless { var(txn.exp),sub(txn.now) -m int gt 0 }
  ${refuse(403, 'insufficient_scope')} unless { var(txn.bearer),jwt_payload_query('$.scope') -m reg (^|\\ )${o.role}(\\ |$) }
  # One path rule, then the caller's credentials swapped for the upstream's.
  ${refuse(403, 'insufficient_scope')} unless METH_GET { path_reg ^${o.prefix}${PATH_RULE.slice(1)} }
  http-request set-header Authorization "Bearer ${o.upstreamToken}"
  http-request replace-path ^${o.prefix}(/.*) \\1
  default_backend stand_in

backend stand_in
  http-reuse always
  server stand_in ${o.upstream.hostname}:${o.upstream.port}
`;
}

async function haproxyAnchor(ctx: BenchContext, inputs: AnchorInputs): Promise<Scenario | { skipped: string }> {
  const found = haproxyVersion();
  if ('skipped' in found) return found;
  const keyFile = join(ctx.tmp, 'haproxy-broker-key.pem');
  writeFileSync(keyFile, await brokerPublicKeyPem(ctx, inputs.brokerToken));
  const port = await freePort();
  const configFile = join(ctx.tmp, 'haproxy.cfg');
  const claims = JSON.parse(Buffer.from(inputs.brokerToken.split('.')[1]!, 'base64url').toString()) as { scope?: string };
  const role = claims.scope?.split(' ')[0];
  if (!role) throw new Error('the broker token has no scope to check');
  writeFileSync(
    configFile,
    haproxyConfig({ port, keyFile, issuer: inputs.brokerUrl, audience: STAND_IN.audience, role, prefix: inputs.prefix, upstream: new URL(inputs.standInUrl), upstreamToken: inputs.standInToken }),
  );
  const check = spawnSync('haproxy', ['-c', '-f', configFile], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`haproxy -c rejected ${configFile}:\n${check.stdout}${check.stderr}`);
  const proc = ctx.group.spawn('haproxy', 'haproxy', ['-db', '-f', configFile]);
  const url = `http://127.0.0.1:${port}`;
  await waitUntilReady(proc, `${url}/healthz`, 10_000);
  ctx.tracked.set('haproxy', { pid: proc.pid, tree: false });
  process.stderr.write(`HAProxy: ${found.version}, config ${configFile}\n`);
  return dagScenario('anchor-haproxy', 'HAProxy jwt_verify ES256', url + inputs.prefix, inputs.brokerToken, ['stand-in']);
}

/** The oauth2-proxy binary from the cache, built by scripts/build-oauth2-proxy.sh when missing (needs Go). */
function oauth2ProxyBinary(): { binary: string } | { skipped: string } {
  const binary = join(OAUTH2_PROXY_DIR, 'oauth2-proxy');
  if (existsSync(binary)) return { binary };
  if (spawnSync('go', ['version']).error) return { skipped: `Go is not on PATH and ${binary} is not built (scripts/build-oauth2-proxy.sh builds it)` };
  process.stderr.write(`building oauth2-proxy ${OAUTH2_PROXY_VERSION} into ${OAUTH2_PROXY_DIR} (go install; a few minutes, once)...\n`);
  const build = spawnSync(OAUTH2_PROXY_BUILD, [], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (build.status !== 0 || !existsSync(binary)) return { skipped: `scripts/build-oauth2-proxy.sh failed (exit ${String(build.status)})` };
  return { binary };
}

/** oauth2-proxy's flags of one run (bench/README.md shows them). */
export function oauth2ProxyFlags(o: { port: number; issuer: string; audience: string; upstream: string }): string[] {
  return [
    `--http-address=127.0.0.1:${o.port}`,
    `--upstream=${o.upstream}/`,
    '--provider=oidc',
    `--oidc-issuer-url=${o.issuer}`,
    '--oidc-enabled-signing-alg=ES256',
    // The broker's audience as the client id: oauth2-proxy's own verifier then accepts the token (aud, iss, exp,
    // ES256). Its --extra-jwt-issuers verifier would not: it expects RS256 whatever --oidc-enabled-signing-alg says.
    `--client-id=${o.audience}`,
    '--client-secret=unused-only-bearer-tokens-are-sent',
    `--cookie-secret=${'0123456789abcdef0123456789abcdef'}`,
    '--cookie-secure=false',
    '--email-domain=*',
    '--skip-jwt-bearer-tokens=true',
    '--bearer-token-login-fallback=false',
    '--oidc-email-claim=sub',
    '--insecure-oidc-allow-unverified-email=true',
    '--request-logging=false',
    '--auth-logging=false',
    '--standard-logging=false',
  ];
}

async function oauth2ProxyAnchor(ctx: BenchContext, inputs: AnchorInputs): Promise<Scenario | { skipped: string }> {
  const found = oauth2ProxyBinary();
  if ('skipped' in found) return found;
  // oauth2-proxy passes the caller's Authorization on: it gets a second stand-in that answers any bearer token.
  const open = await startStandIn(ctx, { name: 'stand-in-open', open: true });
  const port = await freePort();
  // GOMAXPROCS=1: one thread running Go code at a time, like the other proxies (a Go program otherwise uses every core).
  const env = { ...process.env, GOMAXPROCS: '1' };
  const proc = ctx.group.spawn('oauth2-proxy', found.binary, oauth2ProxyFlags({ port, issuer: inputs.brokerUrl, audience: STAND_IN.audience, upstream: open.url }), env);
  const url = `http://127.0.0.1:${port}`;
  await waitUntilReady(proc, `${url}/ping`, 20_000);
  ctx.tracked.set('oauth2-proxy', { pid: proc.pid, tree: false });
  return dagScenario('anchor-oauth2-proxy', 'oauth2-proxy (authenticates only)', url, inputs.brokerToken, ['stand-in-open']);
}
