import type { LoadedConfig } from './config/load-config.js';
import type { Config } from './config/schema.js';
import { Directories } from './directory/directories.js';
import type { KeyStore } from './keys/key-store.js';
import { logKeyProblems, openKeyStores } from './keys/open-key-stores.js';
import { createAuditLog, type AuditLog } from './observability/audit-log.js';
import { Drain } from './http/drain.js';
import { RecentDecisions } from './observability/recent-decisions.js';
import { createLogger, type Logger } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { UpstreamProbes } from './observability/upstream-probes.js';
import { readPolicyFile } from './policy/policy-file.js';
import { PolicyStore } from './policy/policy-store.js';
import { PolicyReloader } from './policy/policy-reloader.js';
import { GrantRegistry } from './broker/grants/grant.js';
import { clientCredentialsGrant } from './broker/grants/client-credentials-grant.js';
import { tokenExchangeGrant } from './broker/grants/token-exchange-grant.js';
import { openRateLimits, type RateLimits } from './broker/open-rate-limits.js';
import { openSharedRedis } from './redis/shared-redis.js';
import { TokenService } from './broker/token-service.js';
import { adminAudience } from './broker/target.js';
import { AccessTokenIssuer } from './tokens/access-token-issuer.js';
import { AccessTokenVerifier } from './tokens/access-token-verifier.js';
import { MemoryRevocationStore, type RevocationStore } from './tokens/revocation-store.js';
import { SqliteRevocationStore } from './tokens/sqlite-revocation-store.js';
import { CachedRevocationStore } from './tokens/cached-revocation-store.js';
import { RedisRevocationStore } from './tokens/redis-revocation-store.js';
import { ProxyAuthenticator } from './proxy/authenticate.js';
import { buildDeployments, type Deployment } from './proxy/deployments.js';
import type { CliLogin } from './broker/authorization/cli-login.js';
import { AuthorizationCodes } from './broker/authorization/authorization-codes.js';
import { authorizationCodeGrant } from './broker/grants/authorization-code-grant.js';
import type { ExpiringStore } from './sessions/expiring-store.js';
import { MemoryExpiringStore } from './sessions/memory-expiring-store.js';
import { openExpiringStore } from './sessions/open-expiring-store.js';
import { createLogins } from './login/create-logins.js';
import type { Logins } from './login/logins.js';

/** Everything the HTTP layer needs, built once from the configuration. */
export interface Services {
  config: Config;
  logger: Logger;
  audit: AuditLog;
  recentDecisions: RecentDecisions;
  metrics: Metrics;
  keys: KeyStore;
  policies: PolicyStore;
  policyReloader: PolicyReloader;
  directories: Directories;
  revocations: RevocationStore;
  grants: GrantRegistry;
  tokens: TokenService;
  verifier: AccessTokenVerifier;
  /** Shared by every instance through Redis when `rate_limits.store` says so, else per process. */
  limits: RateLimits;
  /** Keys of the per-caller Airflow tokens (`trusted-jwks` upstreams); never the client-token keys. */
  airflowKeys: KeyStore;
  deployments: ReadonlyMap<string, Deployment>;
  /** This process's shutdown: the server tracks its requests in it, `/readyz` reads it, long polls end by it. */
  drain: Drain;
  /** Reachability of each deployment, for `/readyz` and `atb_upstream_up`; `start()`ed by the server. */
  upstreamProbes: UpstreamProbes;
  authenticator: ProxyAuthenticator;
  /** The CLI login (`login.cli`): absent when people do not log in, or `login.cli.enabled` is false. */
  cliLogin?: CliLogin;
  /** Server-side state of people's logins: sessions, pending logins, one-time codes. */
  sessionStore: ExpiringStore;
  /** People's logins and sessions, when `login` is configured. */
  logins: Logins | undefined;
  now: () => number;
  close(): Promise<void>;
}

export interface ServiceOverrides {
  logger?: Logger;
  audit?: AuditLog;
  now?: () => number;
  revocations?: RevocationStore;
}

/** The configured store; a Redis that cannot be reached within `connect_timeout` rejects (start-up fails). */
export async function openRevocationStore({ config, paths }: LoadedConfig, logger: Logger, now: () => number): Promise<RevocationStore> {
  const r = config.revocation;
  if (r.store === 'memory') return new MemoryRevocationStore(now);
  if (r.store === 'redis') {
    return RedisRevocationStore.connect({ url: r.redis!.url, keyPrefix: r.redis!.key_prefix, connectTimeoutMs: r.redis!.connect_timeout, logger, now });
  }
  return new SqliteRevocationStore(paths.revocationDb, now);
}

export async function createServices(loaded: LoadedConfig, overrides: ServiceOverrides = {}): Promise<Services> {
  const { config, paths } = loaded;
  const now = overrides.now ?? Date.now;
  const logger = overrides.logger ?? createLogger(config.logging.level);
  // Rate limits and the recent-decisions view, shared by every instance when a Redis is configured for them.
  const sharedRedis = await openSharedRedis(config, logger);
  const recentDecisions = new RecentDecisions(undefined, sharedRedis?.decisions);
  const auditOut = overrides.audit ? undefined : createAuditLog(paths.auditFile ? { file: paths.auditFile, maxBytes: config.audit.max_file_size, maxFiles: config.audit.max_files } : (config.audit.destination as 'stdout' | 'stderr'));
  const audit = recentDecisions.tee(overrides.audit ?? auditOut!);
  const { keys, airflowKeys } = await openKeyStores(loaded, logger, now);
  keys.startReloading(config.keys.reload_interval, logKeyProblems(logger, 'signing keys'));
  airflowKeys.startReloading(config.keys.reload_interval, logKeyProblems(logger, 'Airflow signing keys'));
  // A policy naming a deployment the config does not have is refused, at start and on every reload.
  const upstreams = Object.keys(config.upstreams);
  const policies = new PolicyStore(readPolicyFile(paths.policyFile, { upstreams }));
  const directories = new Directories(config.directories);
  const store = overrides.revocations ?? (await openRevocationStore(loaded, logger, now));
  const revocations = new CachedRevocationStore(store, config.revocation.shared_delay, config.proxy.token_cache_size, now);
  const grants = new GrantRegistry();
  const ccDirectory = directories.clientCredentials();
  if (ccDirectory) grants.register(clientCredentialsGrant(ccDirectory));
  if (directories.all.some((d) => d.config.token_exchange)) grants.register(tokenExchangeGrant(directories));
  const issuer = new AccessTokenIssuer(config.issuer, keys, now);
  const verifier = new AccessTokenVerifier(keys, revocations, {
    issuer: config.issuer,
    audiences: [...Object.values(config.upstreams).map((u) => u.audience), adminAudience(config)],
    maxTtlMs: config.tokens.max_ttl,
    // JWT times are whole seconds (jose compares them with the clock floored to a second): a whole-second leeway.
    clockToleranceSec: Math.ceil(config.proxy.leeway / 1000),
    now,
  });
  const metrics = new Metrics({ defaultMetrics: !overrides.logger });
  metrics.policyLastReloadOk.set(1);
  const policyReloader = new PolicyReloader(paths.policyFile, policies, {
    upstreams,
    audit,
    logger,
    now,
    onResult: (r) => {
      metrics.policyReloads.inc({ outcome: r.outcome });
      metrics.policyLastReloadOk.set(r.outcome === 'refused' ? 0 : 1);
    },
  });
  const limits = openRateLimits(config, sharedRedis, logger, now);
  const drain = new Drain();
  const deployments = buildDeployments(config, airflowKeys, now, drain.longPollsEnd);
  const probe = config.server.ops.upstream_probe;
  // Without people's logins nothing keeps state there: no file is created, no Redis is needed.
  const sessionStore: ExpiringStore = config.login
    ? await openExpiringStore(config.login.session_store, loaded, logger, now)
    : new MemoryExpiringStore({ maxEntries: 1_000, now });
  const logins = config.login ? createLogins(config, directories, sessionStore, now) : undefined;
  const cliLogin = logins && config.login!.cli.enabled ? { clientId: config.login!.cli.client_id, codes: new AuthorizationCodes(sessionStore, config.tokens.max_ttl), people: logins } : undefined;
  if (cliLogin) grants.register(authorizationCodeGrant({ config, clientId: cliLogin.clientId, codes: cliLogin.codes, revocations, logger }));
  const upstreamProbes = new UpstreamProbes(
    [...deployments.values()].map((d) => ({ name: d.name, url: d.config.url!.replace(/\/+$/, '') + d.api.health })),
    { intervalMs: probe.interval, timeoutMs: probe.timeout, gauge: metrics.upstreamUp, now },
  );
  return {
    config,
    logger,
    audit,
    recentDecisions,
    metrics,
    keys,
    policies,
    policyReloader,
    directories,
    revocations,
    grants,
    tokens: new TokenService(config, policies, issuer, revocations, now),
    verifier,
    limits,
    airflowKeys,
    deployments,
    drain,
    upstreamProbes,
    authenticator: new ProxyAuthenticator(verifier, {
      keys,
      cacheSize: config.proxy.token_cache_size,
      now,
      revocations,
    }),
    sessionStore,
    logins,
    cliLogin,
    now,
    async close() {
      keys.stop();
      airflowKeys.stop();
      policyReloader.stop();
      upstreamProbes.stop();
      await Promise.all([...deployments.values()].map((d) => d.client.close()));
      revocations.close();
      await sessionStore.close();
      // Every line written out before the process exits (a flush alone leaves a write under way unfinished).
      await (auditOut ? auditOut.close() : audit.flush());
      // After the audit: its last decisions go to the shared recent-decisions stream before the connection closes.
      await sharedRedis?.close();
    },
  };
}
