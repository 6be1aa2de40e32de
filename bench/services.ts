import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { DEV_DIRECTORY_AUDIENCE } from '../scripts/dev-directory.js';
import type { ConfigInput } from '../src/config/schema.js';
import type { BenchContext } from './bench-context.js';
import { firstJsonLine, freePort, waitUntilReady, type BenchProcess } from './processes.js';
import { REAL_AIRFLOW, ROOT, settings, STAND_IN, TOKEN_CACHE_SIZE } from './settings.js';

/** Start-up of the bench's own processes: the dev directory, the stand-in upstream, the broker, the floor proxy. */

export interface Started {
  url: string;
  process: BenchProcess;
}

/** Node flags of a process the bench may profile (BENCH_CPU_PROF=1): its profile lands in `<tmp>/profile-<name>`. */
export function profileArgs(ctx: BenchContext, name: string): string[] {
  return settings.cpuProfile ? ['--cpu-prof', '--cpu-prof-dir', join(ctx.tmp, `profile-${name}`)] : [];
}

/** Spawns a Node script of dist/bench that prints `{"url": ...}` (or `issuer`) once listening, and tracks its CPU. */
async function startNodeScript<T>(ctx: BenchContext, name: string, script: string, env: NodeJS.ProcessEnv = process.env, profiled = false): Promise<T & { process: BenchProcess }> {
  const proc = ctx.group.spawn(name, process.execPath, [...(profiled ? profileArgs(ctx, name) : []), join(ROOT, 'dist/bench', script)], env);
  const line = await firstJsonLine<T>(proc, 15_000);
  ctx.tracked.set(name, { pid: proc.pid, tree: false });
  return { ...line, process: proc };
}

export async function startDirectory(ctx: BenchContext): Promise<{ issuer: string; process: BenchProcess }> {
  return startNodeScript<{ issuer: string }>(ctx, 'directory', 'directory-process.js');
}

export async function directoryTokenEndpoint(issuer: string): Promise<string> {
  const res = await fetch(`${issuer}/.well-known/openid-configuration`);
  const metadata = (await res.json()) as { token_endpoint?: string };
  if (!metadata.token_endpoint) throw new Error('the dev directory publishes no token_endpoint');
  return metadata.token_endpoint;
}

/**
 * The stand-in upstream. `open`: a second instance that answers the DAG to any bearer token
 * (BENCH_STAND_IN_OPEN=1), for an anchor that cannot swap the caller's credentials (oauth2-proxy).
 */
export async function startStandIn(ctx: BenchContext, options: { name: string; open?: boolean; profiled?: boolean }): Promise<Started> {
  const env = options.open ? { ...process.env, BENCH_STAND_IN_OPEN: '1' } : process.env;
  return startNodeScript<{ url: string }>(ctx, options.name, 'stand-in-upstream.js', env, options.profiled);
}

/** The floor proxy (bench/floor-proxy.ts) in front of the stand-in, verifying the broker's tokens. */
export async function startFloor(ctx: BenchContext, options: { brokerUrl: string; standInUrl: string; standInToken: string; prefix: string }): Promise<Started> {
  const env = {
    ...process.env,
    FLOOR_UPSTREAM: options.standInUrl,
    FLOOR_UPSTREAM_AUTHORIZATION: `Bearer ${options.standInToken}`,
    FLOOR_JWKS_URL: `${options.brokerUrl}/oauth2/jwks`,
    FLOOR_ISSUER: options.brokerUrl,
    FLOOR_AUDIENCE: STAND_IN.audience,
    FLOOR_PREFIX: options.prefix,
  };
  return startNodeScript<{ url: string }>(ctx, 'floor', 'floor-proxy.js', env, true);
}

export async function startBroker(ctx: BenchContext, directoryIssuer: string, standInUrl: string, airflowPort: number | undefined): Promise<Started & { opsUrl: string }> {
  const { tmp } = ctx;
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const opsPort = await freePort();
  const unthrottled = { requests: 10_000_000, per: '1s' };
  const config: ConfigInput = {
    issuer: url,
    server: { host: '127.0.0.1', port, workers: settings.brokerWorkers, ops: { port: opsPort } },
    policy_file: './policy.yaml',
    keys: { dir: './keys' },
    directories: {
      dev: {
        issuer: directoryIssuer,
        allow_insecure_http: true,
        timeout: '5s',
        client_credentials: { audience: DEV_DIRECTORY_AUDIENCE },
        token_exchange: { audiences: [DEV_DIRECTORY_AUDIENCE] },
      },
    },
    upstreams: {
      bench: { audience: 'https://airflow.bench.example' },
      [STAND_IN.upstream]: {
        audience: STAND_IN.audience,
        url: standInUrl,
        credentials: { mode: 'service-account', username: 'proxy', password: `\${${STAND_IN.passwordEnv}}` },
      },
      ...(airflowPort === undefined
        ? {}
        : {
            [REAL_AIRFLOW.upstream]: {
              audience: REAL_AIRFLOW.audience,
              url: `http://127.0.0.1:${airflowPort}`,
              credentials: { mode: 'service-account', username: 'proxy', password: `\${${REAL_AIRFLOW.passwordEnv}}` },
            },
          }),
    },
    default_upstream: 'bench',
    proxy: { token_cache_size: TOKEN_CACHE_SIZE },
    rate_limits: { per_client: unthrottled, per_ip: unthrottled },
    revocation: { sqlite_path: './revocations.sqlite' },
    audit: { destination: settings.brokerWorkers > 1 ? 'stdout' : join(tmp, 'audit.log') },
    logging: { level: 'warn' },
  };
  copyFileSync(join(ROOT, 'examples/policy.yaml'), join(tmp, 'policy.yaml'));
  const configFile = join(tmp, 'config.yaml');
  writeFileSync(configFile, stringify(config));
  const env = { ...process.env, [STAND_IN.passwordEnv]: STAND_IN.password, [REAL_AIRFLOW.passwordEnv]: REAL_AIRFLOW.password };
  const proc = ctx.group.spawn('broker', process.execPath, [...profileArgs(ctx, 'broker'), ...settings.brokerNodeArgs, join(ROOT, 'dist/src/cli/main.js'), 'serve', '--config', configFile], env);
  await waitUntilReady(proc, `${url}/readyz`, 20_000);
  ctx.tracked.set('broker', { pid: proc.pid, tree: settings.brokerWorkers > 1 });
  return { url, opsUrl: `http://127.0.0.1:${opsPort}`, process: proc };
}
