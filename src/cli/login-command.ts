import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { CLI_REDIRECT_PATH } from '../broker/authorization/loopback-redirect.js';
import { pickDeployment } from './broker-deployment.js';
import { discoverCliClient } from './cli-client.js';
import { CliExit, EXIT, exitWith } from './exit-codes.js';
import { TokenCache } from './token-cache.js';

export interface LoginOptions {
  issuer: string;
  deployment?: string;
  /** Commander's `--no-browser`: false when given. */
  browser: boolean;
  insecureHttp?: boolean;
  /** How long to wait for the browser to come back (ms). */
  timeoutMs?: number;
}

const LOGIN_TIMEOUT_MS = 5 * 60_000;

/**
 * `login`: the person logs in in a browser (the broker's directory login), the broker sends a one-time code to a
 * loopback listener of this process (RFC 8252, PKCE S256, `state`, `iss`: all checked by openid-client), and the
 * token it is exchanged for is cached for `token`, `run` and `wait`.
 */
export async function login(options: LoginOptions, cache = new TokenCache()): Promise<void> {
  await exitWith(async () => {
    const config = await reachBroker(options);
    const { name, deployment } = pickDeployment(config.serverMetadata(), options.deployment);
    if (config.serverMetadata().authorization_endpoint === undefined) throw new CliExit(EXIT.badInput, `the broker at ${options.issuer} has no login for people (its config sets no \`login\`)`);
    const listener = await loopbackListener();
    try {
      const redirectUri = `http://127.0.0.1:${listener.port}${CLI_REDIRECT_PATH}`;
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        response_type: 'code',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        resource: deployment.resource,
      });
      process.stderr.write(`To log in to deployment ${name}, open this address in your browser:\n\n  ${url.href}\n\n`);
      if (options.browser) openBrowser(url.href);
      const callback = await listener.next(options.timeoutMs ?? LOGIN_TIMEOUT_MS);
      let tokens: oidc.TokenEndpointResponse;
      try {
        tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state }, { resource: deployment.resource });
      } catch (err) {
        throw refused(err);
      }
      const expiresAt = Date.now() + (tokens.expires_in ?? 0) * 1000;
      cache.put({ issuer: options.issuer, deployment: name, resource: deployment.resource, access_token: tokens.access_token, scope: tokens.scope ?? '', expires_at: expiresAt });
      const subject = decodeJwt(tokens.access_token).sub;
      process.stderr.write(`Logged in as ${subject} to deployment ${name} (roles: ${tokens.scope ?? 'none'}) until ${new Date(expiresAt).toISOString()}; token cached in ${cache.path}\n`);
    } finally {
      listener.close();
    }
  });
}

export interface LogoutOptions {
  issuer: string;
  deployment?: string;
  insecureHttp?: boolean;
}

/** `logout`: removes the cached tokens of a broker (one deployment, or all) and revokes those still valid there. */
export async function logout(options: LogoutOptions, cache = new TokenCache()): Promise<void> {
  await exitWith(async () => {
    const removed = cache.remove(options.issuer, options.deployment);
    const live = removed.filter((t) => t.expires_at > Date.now());
    const notRevoked = (err: unknown) =>
      new CliExit(
        EXIT.unavailable,
        `removed from the cache, but the broker did not revoke the token(s) of ${live.map((t) => `${t.deployment} (valid until ${new Date(t.expires_at).toISOString()})`).join(', ')}: ${describe(err)}`,
      );
    if (live.length > 0) {
      const config = await discoverCliClient(options.issuer, options.insecureHttp).catch((err: unknown) => Promise.reject(notRevoked(err)));
      for (const t of live) await oidc.tokenRevocation(config, t.access_token).catch((err: unknown) => Promise.reject(notRevoked(err)));
    }
    process.stderr.write(removed.length === 0 ? `not logged in at ${options.issuer}\n` : `logged out of ${removed.map((t) => t.deployment).join(', ')} (${live.length} token(s) revoked)\n`);
  });
}

async function reachBroker(options: { issuer: string; insecureHttp?: boolean }): Promise<oidc.Configuration> {
  try {
    return await discoverCliClient(options.issuer, options.insecureHttp);
  } catch (err) {
    throw new CliExit(EXIT.unavailable, `cannot read the broker's metadata at ${options.issuer}: ${describe(err)}`);
  }
}

/** The broker's refusal of the code (`invalid_grant`...), or a callback that carried an error or failed a check. */
function refused(err: unknown): CliExit {
  if (err instanceof oidc.AuthorizationResponseError || err instanceof oidc.ResponseBodyError) {
    const trouble = err.error === 'temporarily_unavailable' || err.error === 'server_error';
    return new CliExit(trouble ? EXIT.unavailable : EXIT.refused, `the login was refused: ${err.error}${err.error_description ? `: ${err.error_description}` : ''}`);
  }
  return new CliExit(EXIT.refused, `the login failed: ${describe(err)}`);
}

interface LoopbackListener {
  port: number;
  /** The URL of the first request to the redirect path (the browser coming back). */
  next(timeoutMs: number): Promise<URL>;
  close(): void;
}

/** A listener on 127.0.0.1 (any free port) for the one redirect back from the broker. */
async function loopbackListener(): Promise<LoopbackListener> {
  let arrived: (url: URL) => void = () => undefined;
  const callback = new Promise<URL>((resolve) => (arrived = resolve));
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    if (req.method !== 'GET' || url.pathname !== CLI_REDIRECT_PATH) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    const failed = url.searchParams.has('error');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': "default-src 'none'" });
    res.end(`<!doctype html><title>airflow-token-broker</title><p>${failed ? 'The login failed: see the terminal.' : 'Logged in: you can close this window and go back to the terminal.'}</p>\n`);
    arrived(url);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    async next(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new CliExit(EXIT.timeout, `no login within ${Math.round(timeoutMs / 1000)} s: run \`airflow-token-broker login\` again`)), timeoutMs);
      });
      try {
        return await Promise.race([callback, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** Opens the address in the person's browser where there is one; the address is printed either way. */
function openBrowser(url: string): void {
  const command =
    process.platform === 'darwin' ? ['open', url] : process.platform === 'win32' ? ['cmd', '/c', 'start', '""', url] : process.env.DISPLAY || process.env.WAYLAND_DISPLAY ? ['xdg-open', url] : undefined;
  if (!command) return;
  const child = spawn(command[0]!, command.slice(1), { stdio: 'ignore', detached: true });
  child.on('error', () => undefined); // no opener installed: the printed address is enough
  child.unref();
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
