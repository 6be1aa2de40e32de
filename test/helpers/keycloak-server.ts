import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ConfigInput } from '../../src/config/schema.js';
import { basic, startBroker, tokenRequest, type Broker } from './broker-harness.js';
import { freePort } from '../../scripts/airflow-server.js';
import { answersOk, spawnServer } from '../../scripts/server-process.js';

/**
 * A real Keycloak (the Quarkus distribution from Maven Central, installed and built once by
 * `scripts/keycloak/ensure-keycloak.sh`) on a free loopback port, with the test realm
 * `test/fixtures/keycloak/airflow-realm.json` imported at start. Nothing is persisted (in-memory H2).
 */
export interface KeycloakServer {
  /** e.g. `http://127.0.0.1:38123` */
  url: string;
  /** The test realm's issuer, exactly as Keycloak writes `iss`: `<url>/realms/airflow`. */
  issuer: string;
  /** A token answer of the realm's token endpoint (client credentials or password grant). */
  token(params: Record<string, string>, client: { id: string; secret: string }): Promise<KeycloakTokens>;
  /** Alice logs in at the login client `workflow-ui` (password grant): her access and ID tokens, as her tool holds them. */
  login(): Promise<{ access: string; id: string }>;
  /** A call of the realm's admin REST API (`/admin/realms/airflow<path>`) as the realm's `test-admin` client. */
  admin(path: string, init?: { method?: string; body?: unknown }): Promise<Response>;
  /**
   * Registers a broker on the realm's relying-party client `airflow-token-broker-console`: `<issuer>/login/callback`
   * as its redirect URI and `<issuer>/login/logged-out` as its post-logout redirect URI (exact, no wildcard).
   */
  allowBrokerLogin(brokerIssuer: string): Promise<void>;
  /** Adds a generated RS256 key with a higher priority than any before: Keycloak signs with it from now on. Returns its `kid`. */
  rotateKey(): Promise<string>;
  /** The last lines Keycloak logged. */
  logTail(): string;
  stop(): Promise<void>;
}

export interface KeycloakTokens {
  status: number;
  body: { access_token?: string; id_token?: string; error?: string; error_description?: string };
}

/** Where the broker's audience is, in the realm's audience mappers. */
export const KEYCLOAK_BROKER_AUDIENCE = 'urn:airflow-token-broker';
export const KEYCLOAK_REALM = 'airflow';

/** Secrets and users of the test realm (see the fixture). */
export const KC = {
  etl: { id: 'svc-etl', secret: 'svc-etl-secret' },
  reporting: { id: 'svc-reporting', secret: 'svc-reporting-secret' },
  unbound: { id: 'svc-unbound', secret: 'svc-unbound-secret' },
  noAudience: { id: 'svc-no-audience', secret: 'svc-no-audience-secret' },
  /** In airflow-etl, its Group Membership mapper with "Full group path" on: groups `/airflow-etl`. */
  fullPath: { id: 'svc-full-path', secret: 'svc-full-path-secret' },
  /** In no group; holds realm role airflow-etl (in `realm_access.roles`). */
  realmRoles: { id: 'svc-realm-roles', secret: 'svc-realm-roles-secret' },
  /** The login client of a human user's tool (direct grant allowed). */
  login: { id: 'workflow-ui', secret: 'workflow-ui-secret' },
  admin: { id: 'test-admin', secret: 'test-admin-secret' },
  alice: { username: 'alice', password: 'alice-password' },
  /** The broker's relying-party client for people's browser logins (authorization code, PKCE S256 enforced). */
  console: { id: 'airflow-token-broker-console', secret: 'airflow-token-broker-console-secret' },
  /** A person in group airflow-etl who logs in only through Keycloak's own login page (the console client). */
  carol: { username: 'carol', password: 'carol-password' },
} as const;

// Relative to the working directory: npm scripts and jest run from the project root.
const ensureScript = resolve('scripts/keycloak/ensure-keycloak.sh');
const realmFile = resolve('test/fixtures/keycloak/airflow-realm.json');

/** Installs Keycloak on first use (download and build: minutes), then starts it (seconds). For `beforeAll`. */
export const KEYCLOAK_START_TIMEOUT_MS = 600_000;

/** The install step: prints the Keycloak home (built, ready for `start --optimized`). */
export async function ensureKeycloak(): Promise<string> {
  return new Promise((resolvePath, reject) => {
    execFile(ensureScript, [], { maxBuffer: 16 * 1024 * 1024, timeout: KEYCLOAK_START_TIMEOUT_MS }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${ensureScript} failed: ${err.message}\n${stderr.split('\n').slice(-30).join('\n')}`));
      else resolvePath(stdout.trim().split('\n').pop()!);
    });
  });
}

/**
 * Starts Keycloak in its own process group and waits until the realm's discovery document answers. Each
 * instance gets its own home (symlinks to the cached distribution plus its own `data/`), so instances never
 * share state and the realm file is imported from the instance's `data/import`.
 */
export async function startKeycloak(opts: { timeoutMs?: number } = {}): Promise<KeycloakServer> {
  const home = await ensureKeycloak();
  const instance = mkdtempSync(join(tmpdir(), 'atb-keycloak-'));
  for (const part of ['bin', 'conf', 'lib', 'providers', 'themes']) symlinkSync(join(home, part), join(instance, part));
  mkdirSync(join(instance, 'data', 'import'), { recursive: true });
  copyFileSync(realmFile, join(instance, 'data', 'import', 'airflow-realm.json'));

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const issuer = `${url}/realms/${KEYCLOAK_REALM}`;
  const args = [
    'start',
    '--optimized',
    '--import-realm',
    '--http-enabled=true',
    '--http-host=127.0.0.1',
    `--http-port=${port}`,
    // The issuer is exactly this URL: Keycloak derives `iss` from the hostname, not from the request.
    `--hostname=${url}`,
    // One instance, not a cluster (no JGroups discovery).
    '--cache=local',
    '--log-console-color=false',
    // kc.sh sets kc.home.dir to the cached distribution; a later -D wins, so data/ is the instance's own.
    `-Dkc.home.dir=${instance}`,
  ];
  const server = spawnServer(join(home, 'bin', 'kc.sh'), args, {
    ...process.env,
    // Small bounds: the suite also runs Airflow and the broker on a 2-core machine. C1 only starts faster.
    JAVA_OPTS_KC_HEAP: process.env.KEYCLOAK_TEST_HEAP ?? '-Xms64m -Xmx512m',
    JAVA_OPTS_APPEND: '-XX:TieredStopAtLevel=1',
  });
  const stop = async () => {
    await server.stop();
    rmSync(instance, { recursive: true, force: true });
  };

  const timeoutMs = opts.timeoutMs ?? 180_000;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && server.running() && !(await answersOk(`${issuer}/.well-known/openid-configuration`))) {
    await new Promise((r) => setTimeout(r, 500));
  }
  if (!server.running() || Date.now() >= deadline) {
    const why = server.running() ? `not ready after ${timeoutMs} ms` : `kc.sh exited (${server.howItEnded()})`;
    await stop();
    throw new Error(`Keycloak on ${url}: ${why}; last output:\n${server.logTail()}`);
  }

  const token: KeycloakServer['token'] = async (params, client) => {
    const res = await fetch(`${issuer}/protocol/openid-connect/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: 'Basic ' + Buffer.from(`${client.id}:${client.secret}`).toString('base64'),
      },
      body: new URLSearchParams(params),
    });
    return { status: res.status, body: (await res.json()) as KeycloakTokens['body'] };
  };
  const admin: KeycloakServer['admin'] = async (path, init = {}) => {
    const { body } = await token({ grant_type: 'client_credentials' }, KC.admin);
    if (!body.access_token) throw new Error(`no admin token from Keycloak: ${JSON.stringify(body)}`);
    return fetch(`${url}/admin/realms/${KEYCLOAK_REALM}${path}`, {
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${body.access_token}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
  };
  let rotations = 0;
  const rotateKey = async () => {
    rotations += 1;
    const name = `rotated-rs256-${rotations}`;
    const created = await admin('/components', {
      method: 'POST',
      body: {
        name,
        providerId: 'rsa-generated',
        providerType: 'org.keycloak.keys.KeyProvider',
        parentId: KEYCLOAK_REALM,
        // The realm's own key has priority 100; the highest active key of an algorithm signs.
        config: { priority: [String(1000 + rotations)], enabled: ['true'], active: ['true'], algorithm: ['RS256'], keySize: ['2048'] },
      },
    });
    if (created.status !== 201) throw new Error(`Keycloak refused the new key provider: ${created.status} ${await created.text()}`);
    const keys = (await (await admin('/keys')).json()) as { active: Record<string, string> };
    const kid = keys.active.RS256;
    if (!kid) throw new Error(`Keycloak has no active RS256 key after the rotation: ${JSON.stringify(keys)}`);
    return kid;
  };

  const allowBrokerLogin: KeycloakServer['allowBrokerLogin'] = async (brokerIssuer) => {
    const found = (await (await admin(`/clients?clientId=${KC.console.id}`)).json()) as Array<{ id: string; attributes?: Record<string, string> }>;
    const client = found[0];
    if (!client) throw new Error(`the realm has no client ${KC.console.id}`);
    const base = brokerIssuer.replace(/\/+$/, '');
    const updated = await admin(`/clients/${client.id}`, {
      method: 'PUT',
      body: { ...client, redirectUris: [`${base}/login/callback`], attributes: { ...client.attributes, 'post.logout.redirect.uris': `${base}/login/logged-out` } },
    });
    if (updated.status !== 204) throw new Error(`Keycloak refused the redirect URIs: ${updated.status} ${await updated.text()}`);
  };

  const login: KeycloakServer['login'] = async () => {
    const res = await token({ grant_type: 'password', username: KC.alice.username, password: KC.alice.password, scope: 'openid' }, KC.login);
    if (!res.body.access_token || !res.body.id_token) throw new Error(`Keycloak refused alice's login: ${JSON.stringify(res.body)}\n${server.logTail()}`);
    return { access: res.body.access_token, id: res.body.id_token };
  };

  return { url, issuer, token, login, admin, allowBrokerLogin, rotateKey, logTail: server.logTail, stop };
}

/**
 * A broker whose `dev` directory is the Keycloak realm (audience `urn:airflow-token-broker` on both grants);
 * `configure` may change any other option afterwards.
 */
export function startBrokerOnKeycloak(kc: KeycloakServer, options: { policyFile?: string; configure?: (c: ConfigInput) => void } = {}): Promise<Broker> {
  return startBroker(
    { issuer: kc.issuer },
    {
      ...(options.policyFile ? { policyFile: options.policyFile } : {}),
      configure: (c) => {
        c.directories.dev = {
          issuer: kc.issuer,
          allow_insecure_http: true,
          timeout: '5s',
          client_credentials: { audience: KEYCLOAK_BROKER_AUDIENCE },
          token_exchange: { audiences: [KEYCLOAK_BROKER_AUDIENCE] },
        };
        options.configure?.(c);
      },
    },
  );
}

/** The broker's client-credentials grant for a Keycloak client (its secret checked at Keycloak). */
export function clientCredentialsAt(broker: Broker, client: { id: string; secret: string }) {
  return tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic(client.id, client.secret) });
}
