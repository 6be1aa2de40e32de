import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, type JWTPayload } from 'jose';
import * as oidc from 'openid-client';
import { stringify } from 'yaml';
import { DEV_DIRECTORY_AUDIENCE, startDevDirectory, type DevDirectory } from '../../scripts/dev-directory.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { EXAMPLE_POLICY } from '../helpers/broker-harness.js';
import { KC, KEYCLOAK_BROKER_AUDIENCE, KEYCLOAK_START_TIMEOUT_MS, startKeycloak } from '../helpers/keycloak-server.js';
import { runCli } from '../helpers/run-cli.js';

/**
 * `directory check` as a security admin runs it: the real CLI against a real directory. The cases are written
 * against a peer (the directory, and which of its clients shows which fault), so that another real directory runs
 * the same cases by adding a peer to PEERS. Two peers: the dev directory (oidc-provider, its faults imitating
 * Keycloak's) and a real Keycloak 26 (test/helpers/keycloak-server.ts, realm test/fixtures/keycloak/airflow-realm.json)
 * with `healthy` a service account in group airflow-etl with an audience mapper, `noAudience` one without the
 * mapper, `fullPath` one whose Group Membership mapper has "Full group path" on, `realmRoles` one holding realm
 * role airflow-etl in no group. Each fault case first fetches a token of that client from the directory itself
 * and asserts the fault is really in what the directory sends, then that the CLI reports what was sent.
 * A case whose client the peer does not have is skipped.
 */
interface Client {
  clientId: string;
  secret: string;
}

interface Peer {
  name: string;
  /** How long `start()` may take (Keycloak: first use installs it). */
  startTimeoutMs?: number;
  /** Starts the directory; `directory` is its entry in the broker config. */
  start(): Promise<{ directory: NonNullable<ConfigInput['directories']>[string]; close(): Promise<void> }>;
  clients: {
    /** In group `airflow-etl` (bound to etl-operator by the example policy), with the broker's audience. */
    healthy: Client;
    /** Tokens with Keycloak's default audience (`account`): no audience mapper. */
    noAudience?: Client;
    /** Groups sent as full paths (`/airflow-etl`): Keycloak's Group Membership mapper with "Full group path" on. */
    fullPath?: Client;
    /** No groups; `airflow-etl` is a realm role in `realm_access.roles`. */
    realmRoles?: Client;
  };
}

const devDirectoryPeer: Peer = {
  name: 'dev directory (oidc-provider)',
  clients: {
    healthy: { clientId: 'demo-etl', secret: 'demo-etl-secret' },
    noAudience: { clientId: 'kc-no-audience', secret: 'kc-no-audience-secret' },
    fullPath: { clientId: 'kc-full-path', secret: 'kc-full-path-secret' },
    realmRoles: { clientId: 'kc-realm-roles', secret: 'kc-realm-roles-secret' },
  },
  async start() {
    const directory: DevDirectory = await startDevDirectory({
      accounts: [
        { clientId: 'demo-etl', secret: 'demo-etl-secret', groups: ['airflow-etl'] },
        { clientId: 'kc-no-audience', secret: 'kc-no-audience-secret', groups: ['airflow-etl'] },
        { clientId: 'kc-full-path', secret: 'kc-full-path-secret', groups: ['/airflow-etl'] },
        { clientId: 'kc-realm-roles', secret: 'kc-realm-roles-secret', groups: [] },
      ],
      customizeAccessToken: (payload) => {
        if (payload.client_id === 'kc-no-audience') payload.aud = 'account';
        if (payload.client_id === 'kc-realm-roles') payload.realm_access = { roles: ['airflow-etl', 'default-roles-corp'] };
      },
    });
    return {
      directory: { issuer: directory.issuer, allow_insecure_http: true, timeout: '2s', client_credentials: { audience: DEV_DIRECTORY_AUDIENCE } },
      close: () => directory.close(),
    };
  },
};

const keycloakPeer: Peer = {
  name: 'Keycloak 26',
  startTimeoutMs: KEYCLOAK_START_TIMEOUT_MS,
  clients: {
    healthy: { clientId: KC.etl.id, secret: KC.etl.secret },
    noAudience: { clientId: KC.noAudience.id, secret: KC.noAudience.secret },
    fullPath: { clientId: KC.fullPath.id, secret: KC.fullPath.secret },
    realmRoles: { clientId: KC.realmRoles.id, secret: KC.realmRoles.secret },
  },
  async start() {
    const kc = await startKeycloak();
    return {
      directory: { issuer: kc.issuer, allow_insecure_http: true, timeout: '5s', client_credentials: { audience: KEYCLOAK_BROKER_AUDIENCE } },
      close: () => kc.stop(),
    };
  },
};

const PEERS: Peer[] = [devDirectoryPeer, keycloakPeer];

/** The directory's own client-credentials grant for `client`, as the check performs it. */
async function grantAt(issuer: string, client: Client) {
  const config = await oidc.discovery(new URL(issuer), client.clientId, undefined, oidc.ClientSecretBasic(client.secret), { execute: [oidc.allowInsecureRequests] });
  return oidc.clientCredentialsGrant(config);
}

/** The claims of a token the directory itself issues `client`. */
const sentTo = async (issuer: string, client: Client): Promise<JWTPayload> => decodeJwt((await grantAt(issuer, client)).access_token);

/** How the directory itself refuses `client`: its HTTP status and RFC 6749 error code. */
async function refusalOf(issuer: string, client: Client): Promise<{ status: number; error: string }> {
  const err: unknown = await grantAt(issuer, client).then(
    () => undefined,
    (e: unknown) => e,
  );
  // oidc-provider answers a 401 with a WWW-Authenticate challenge, Keycloak with a JSON body only.
  if (err instanceof oidc.WWWAuthenticateChallengeError && err.cause[0]?.parameters.error) return { status: err.status, error: err.cause[0].parameters.error };
  if (err instanceof oidc.ResponseBodyError) return { status: err.status, error: err.error };
  throw new Error(`the directory did not refuse ${client.clientId} with an OAuth error: ${String(err)}`);
}

/** `aud` as a list, whether the directory sent one string or an array. */
const audiences = (claims: JWTPayload): string[] => (claims.aud === undefined ? [] : [claims.aud].flat());

const withClient = (client: Client | undefined) => (client ? it : it.skip);

/** A config with one directory, `corp`, and the example policy beside it. */
function writeConfig(directory: NonNullable<ConfigInput['directories']>[string]): string {
  const dir = mkdtempSync(join(tmpdir(), 'atb-directory-check-'));
  writeFileSync(join(dir, 'policy.yaml'), readFileSync(EXAMPLE_POLICY));
  const config: ConfigInput = {
    issuer: 'https://broker.example',
    policy_file: './policy.yaml',
    directories: { corp: directory },
    upstreams: { prod: { audience: 'https://airflow.prod.example' } },
  };
  writeFileSync(join(dir, 'config.yaml'), stringify(config));
  return join(dir, 'config.yaml');
}

function check(config: string, client: Client, extra: string[] = []) {
  return runCli(['directory', 'check', '--config', config, '--directory', 'corp', '--client-id', client.clientId, ...extra], {
    env: { AIRFLOW_TOKEN_BROKER_CLIENT_SECRET: client.secret },
  });
}

const COMPACT_JWS = /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/;

interface JsonReport {
  ok: boolean;
  token: unknown;
  accepted: boolean;
  roles: string[];
  problems: Array<{ code: string; expected?: unknown; received?: unknown; hint?: string }>;
  bindings: Array<{ role: string; holds: boolean }>;
}

describe.each(PEERS)('directory check against the $name', (peer) => {
  let config: string;
  let directory: NonNullable<ConfigInput['directories']>[string];
  let audience: string;
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const started = await peer.start();
    close = started.close;
    directory = started.directory;
    audience = directory.client_credentials!.audience!;
    config = writeConfig(directory);
  }, peer.startTimeoutMs);
  afterAll(async () => close?.());

  it('a healthy client: lists what the broker sees and the roles it gets, exit 0', async () => {
    const res = await check(config, peer.clients.healthy);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/signature verified/);
    expect(res.stdout).toMatch(/^ {2}algorithm +\S+: accepted/m);
    expect(res.stdout).toMatch(/matches #1 etl-operator when \{"groups":\["airflow-etl"\]\}/);
    expect(res.stdout).toMatch(/no {5} #2 reporting-reader/);
    expect(res.stdout).toMatch(/^roles: etl-operator$/m);
    expect(res.stdout).toMatch(/^ok: the broker would issue \S+ a token with the roles etl-operator$/m);
    expect(res.stdout).not.toMatch(COMPACT_JWS);
  });

  it('a healthy client, as JSON, with the secret from stdin', async () => {
    const res = await runCli(
      ['directory', 'check', '--config', config, '--directory', 'corp', '--client-id', peer.clients.healthy.clientId, '--client-secret-stdin', '--json'],
      { input: `${peer.clients.healthy.secret}\n`, env: { AIRFLOW_TOKEN_BROKER_CLIENT_SECRET: '' } },
    );
    expect(res.code).toBe(0);
    const report = JSON.parse(res.stdout) as JsonReport;
    expect(report).toMatchObject({ ok: true, accepted: true, roles: ['etl-operator'], problems: [] });
    const sent = await sentTo(directory.issuer, peer.clients.healthy);
    expect(audiences(sent)).toContain(audience);
    expect(sent.groups).toEqual(['airflow-etl']);
    expect(report.token).toMatchObject({ header: { alg: expect.any(String) }, payload: { aud: sent.aud, groups: sent.groups }, signature_verified: true });
    // The directory's token could be exchanged at the broker by whoever reads it: its claims, never the token.
    expect(res.stdout).not.toMatch(COMPACT_JWS);
    expect(report.bindings.map((b) => [b.role, b.holds])).toEqual([
      ['etl-operator', true],
      ['reporting-reader', false],
    ]);
  });

  withClient(peer.clients.noAudience)('a missing audience mapper: names the expected and received aud and the mapper to add, exit 1', async () => {
    const client = peer.clients.noAudience!;
    const sent = await sentTo(directory.issuer, client);
    expect(audiences(sent)).toContain('account');
    expect(audiences(sent)).not.toContain(audience);
    const res = await check(config, client);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain(`(expected "${audience}", received ${JSON.stringify(sent.aud)})`);
    expect(res.stdout).toMatch(/audience_mismatch: the token has aud /);
    expect(res.stdout).toMatch(/fix: Keycloak .*add an audience mapper/);
    expect(res.stdout).toContain(`not ok: 1 problem; the broker refuses ${client.clientId} at this directory`);
    const report = JSON.parse((await check(config, client, ['--json'])).stdout) as JsonReport;
    expect(report.problems).toEqual([expect.objectContaining({ code: 'audience_mismatch', expected: audience, received: sent.aud })]);
    // What the bindings give once the mapper is added.
    expect(report).toMatchObject({ ok: false, accepted: false, roles: ['etl-operator'] });
  });

  withClient(peer.clients.fullPath)('a full-path group: says the binding names airflow-etl while the directory sends /airflow-etl, exit 1', async () => {
    const sent = await sentTo(directory.issuer, peer.clients.fullPath!);
    expect(sent.groups).toEqual(['/airflow-etl']);
    const res = await check(config, peer.clients.fullPath!);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain('binding #1 (etl-operator): your bindings say `airflow-etl`, the directory sends `/airflow-etl`');
    expect(res.stdout).toMatch(/fix: a full group path: turn off "Full group path" in the Keycloak Group Membership mapper/);
    expect(res.stdout).toMatch(/^roles: \(none\)$/m);
  });

  withClient(peer.clients.realmRoles)('roles in realm_access.roles: points to the claim-path binding, exit 1', async () => {
    const sent = await sentTo(directory.issuer, peer.clients.realmRoles!);
    expect(sent.groups ?? []).toEqual([]);
    expect(sent.realm_access).toMatchObject({ roles: expect.arrayContaining(['airflow-etl']) });
    const res = await check(config, peer.clients.realmRoles!, ['--json']);
    expect(res.code).toBe(1);
    const report = JSON.parse(res.stdout) as JsonReport;
    expect(report.roles).toEqual([]);
    expect(report.problems).toEqual([expect.objectContaining({ code: 'binding_near_miss', expected: 'airflow-etl', received: '/realm_access/roles' })]);
    expect(report.problems[0]!.hint).toContain('when: { claims: { "/realm_access/roles": airflow-etl } }');
  });

  it('an issuer written with a trailing slash: the exact form the directory uses, exit 1', async () => {
    const withSlash = writeConfig({ ...directory, issuer: `${directory.issuer}/` });
    const report = JSON.parse((await check(withSlash, peer.clients.healthy, ['--json'])).stdout) as JsonReport;
    expect(report.ok).toBe(false);
    // Discovery tolerates the slash after a bare origin and the token's iss does not; with a path, discovery refuses it.
    const problem = report.problems.find((p) => p.code === 'issuer_mismatch' || p.code === 'discovery_issuer_mismatch');
    expect(problem).toMatchObject({ expected: `${directory.issuer}/`, received: directory.issuer });
    expect(problem!.hint).toContain(`differ only by a trailing slash: write directories.corp.issuer exactly as the directory writes it, "${directory.issuer}"`);
  });

  it("a wrong secret: the directory's own refusal (401) as client_refused, exit 1, the secret never echoed", async () => {
    const wrong = 'wrong-secret-4c1d9e';
    const client = { clientId: peer.clients.healthy.clientId, secret: wrong };
    // The dev directory says invalid_client; Keycloak 26 says unauthorized_client, with 401 as both do.
    const refusal = await refusalOf(directory.issuer, client);
    expect(refusal.status).toBe(401);
    const res = await check(config, client);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain(`client_refused: the directory refused the client id or secret (${refusal.error} `);
    expect(res.stdout + res.stderr).not.toContain(wrong);
  });
});

describe('directory check, directory down', () => {
  it('an unreachable directory: says it could not read the discovery document, exit 1', async () => {
    const port = await closedPort();
    const config = writeConfig({ issuer: `http://127.0.0.1:${port}`, allow_insecure_http: true, timeout: '2s', client_credentials: { audience: DEV_DIRECTORY_AUDIENCE } });
    const res = await check(config, { clientId: 'demo-etl', secret: 'demo-etl-secret' });
    expect(res.code).toBe(1);
    expect(res.stdout).toContain(`directory_unreachable: could not read the discovery document of http://127.0.0.1:${port} (`);
    expect(res.stdout).toMatch(/ECONNREFUSED/);
    expect(res.stdout).toMatch(/fix: check directories\.corp\.issuer/);
  });

  it('an unknown directory name: names the configured ones, exit 1', async () => {
    const config = writeConfig({ issuer: 'http://127.0.0.1:9', allow_insecure_http: true, client_credentials: { audience: DEV_DIRECTORY_AUDIENCE } });
    const res = await runCli(['directory', 'check', '--config', config, '--directory', 'other', '--client-id', 'x'], { env: { AIRFLOW_TOKEN_BROKER_CLIENT_SECRET: 's' } });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/no directory other in .*config\.yaml \(configured: corp\)/);
  });
});

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}
