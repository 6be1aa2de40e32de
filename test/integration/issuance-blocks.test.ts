import { resolve } from 'node:path';
import type { ConfigInput } from '../../src/config/schema.js';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { basic, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';

/**
 * Revoking every token of a leaked service account (by client or by subject) also refuses it new tokens, by
 * either grant, until a security admin lifts the block; lifting never brings the revoked tokens back.
 */
const POLICY = resolve('test/fixtures/policy/with-admin.yaml');
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => redis.stop());

const stores: [string, (c: ConfigInput) => void][] = [
  ['sqlite', (c) => void (c.revocation = { store: 'sqlite', sqlite_path: './revocations.sqlite' })],
  [
    'redis',
    (c) => {
      process.env.ATB_TEST_REDIS_URL = redis.url;
      c.revocation = { store: 'redis', redis: { url: '${ATB_TEST_REDIS_URL}', key_prefix: 'blocks:' } };
    },
  ],
];

describe.each(stores)('issuance blocks (%s store)', (_store, configureStore) => {
  const configure = (c: ConfigInput) => {
    configureStore(c);
    c.introspection = { allowed_clients: ['svc-secadmin'] }; // the admin checks whether a token is active
  };
  let directory: DevDirectory;
  let broker: Broker;
  let adminToken: string;
  /** Tokens issued before their subject or client was revoked. */
  const revoked: Record<string, string> = {};
  const accounts = {
    etl: basic('demo-etl', 'demo-etl-secret'),
    reporting: basic('svc-reporting', 'svc-reporting-secret'),
    admin: basic('svc-secadmin', 'svc-secadmin-secret'),
  };

  beforeAll(async () => {
    directory = await startDirectory({
      accounts: [
        { clientId: 'demo-etl', secret: 'demo-etl-secret', groups: ['airflow-etl'] },
        { clientId: 'svc-reporting', secret: 'svc-reporting-secret', groups: [] },
        { clientId: 'svc-secadmin', secret: 'svc-secadmin-secret', groups: [] },
      ],
    });
    broker = await startBroker(directory, { policyFile: POLICY, configure });
    adminToken = (await tokenRequest(broker, { grant_type: 'client_credentials', resource: `${broker.url}/admin` }, { authorization: accounts.admin })).body
      .access_token as string;
  });
  afterAll(async () => {
    await broker.close();
    await directory.close();
  });

  async function admin(method: string, path: string, body?: unknown) {
    const res = await fetch(`${broker.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  }
  const clientCredentials = (authorization: string) => tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization });
  const directoryToken = (authorization: string) =>
    fetch(`${directory.issuer}/token`, { method: 'POST', headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' })
      .then((r) => r.json() as Promise<{ access_token: string }>)
      .then((b) => b.access_token);
  const exchange = (subject_token: string) =>
    tokenRequest(broker, { grant_type: TOKEN_EXCHANGE, subject_token, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token' });
  const active = async (token: string) =>
    (
      (await fetch(`${broker.url}/oauth2/introspect`, {
        method: 'POST',
        headers: { authorization: accounts.admin, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }),
      }).then((r) => r.json())) as { active: boolean }
    ).active;

  it.each([
    ['client_id', 'demo-etl', 'etl'],
    ['sub', 'svc-reporting', 'reporting'],
  ] as const)('revoking-a-client-does-not-cut-it-off: after revoking by %s, neither grant issues it new tokens', async (kind, value, account) => {
    const before = (await clientCredentials(accounts[account])).body.access_token as string;
    expect(await active(before)).toBe(true);
    const subjectToken = await directoryToken(accounts[account]); // valid at the directory long after the revocation
    expect((await admin('POST', '/admin/revocations', { [kind]: value })).status).toBe(201);
    expect(await active(before)).toBe(false);
    revoked[kind] = before;

    const cc = await clientCredentials(accounts[account]);
    expect(cc.status).toBe(401);
    expect(cc.body.error).toBe('invalid_client');
    expect(cc.headers.get('www-authenticate')).toMatch(/^Basic /);
    const exchanged = await exchange(subjectToken);
    expect(exchanged.status).toBe(400);
    expect(exchanged.body.error).toBe('invalid_request');
    // Later, too (not only within the revocation's cut-off second).
    await new Promise((r) => setTimeout(r, 1_100));
    expect((await clientCredentials(accounts[account])).status).toBe(401);
    expect((await exchange(subjectToken)).status).toBe(400);
    expect(broker.audit.records.at(-1)).toMatchObject({ event: 'token_refused', client_id: value, reason: 'invalid_request' });
  });

  it('the admin API lists the blocks with who placed them', async () => {
    const res = await admin('GET', '/admin/blocks');
    expect(res.status).toBe(200);
    expect(res.body.blocks).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'client_id', value: 'demo-etl', by: 'svc-secadmin' }),
        expect.objectContaining({ kind: 'sub', value: 'svc-reporting', by: 'svc-secadmin' }),
      ]),
    );
    expect(Date.parse(res.body.blocks[0].since)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('a block outlives a restart of the broker', async () => {
    const dir = broker.dir;
    await broker.close();
    broker = await startBroker(directory, { policyFile: POLICY, configure, dir });
    expect((await clientCredentials(accounts.etl)).status).toBe(401);
    expect((await clientCredentials(accounts.reporting)).status).toBe(401);
    // The restarted broker listens elsewhere, so it is another issuer: a new admin token for the tests below.
    adminToken = (await tokenRequest(broker, { grant_type: 'client_credentials', resource: `${broker.url}/admin` }, { authorization: accounts.admin })).body.access_token as string;
  });

  it('lifting a block is audited and lets new tokens be issued; the revoked tokens stay revoked', async () => {
    const lifted = await admin('DELETE', '/admin/blocks/sub/svc-reporting');
    expect(lifted.status).toBe(200);
    expect(lifted.body).toEqual({ kind: 'sub', value: 'svc-reporting', lifted: true });
    expect(broker.audit.admins.at(-1)).toMatchObject({ event: 'admin_block_lifted', admin_sub: 'svc-secadmin', target: { sub: 'svc-reporting' } });
    expect(await active(revoked.sub!)).toBe(false);

    const fresh = await clientCredentials(accounts.reporting);
    expect(fresh.status).toBe(200);
    expect(await active(fresh.body.access_token as string)).toBe(true);
    expect((await exchange(await directoryToken(accounts.reporting))).status).toBe(200);
    // The other block is untouched.
    expect((await clientCredentials(accounts.etl)).status).toBe(401);
    expect((await admin('GET', '/admin/blocks')).body.blocks).toEqual([expect.objectContaining({ kind: 'client_id', value: 'demo-etl' })]);
  });

  it('a client id with a slash or a space is listed and lifted through its URL-encoded path segment', async () => {
    expect((await admin('POST', '/admin/revocations', { client_id: 'team/etl bot' })).status).toBe(201);
    expect((await admin('GET', '/admin/blocks')).body.blocks).toContainEqual(expect.objectContaining({ kind: 'client_id', value: 'team/etl bot' }));
    expect((await admin('DELETE', `/admin/blocks/client_id/${encodeURIComponent('team/etl bot')}`)).body).toEqual({ kind: 'client_id', value: 'team/etl bot', lifted: true });
  });

  it('lifting what is not blocked says so; an unknown kind is refused', async () => {
    expect((await admin('DELETE', '/admin/blocks/client_id/never-blocked')).body).toEqual({ kind: 'client_id', value: 'never-blocked', lifted: false });
    expect((await admin('DELETE', '/admin/blocks/jti/x')).status).toBe(400);
  });
});
