import { resolve } from 'node:path';
import { z } from 'zod';
import { loadConfig } from '../../src/config/load-config.js';
import { configWarnings } from '../../src/config/config-warnings.js';
import { secretRef } from '../../src/config/schema.js';
import { formatProblem, YamlSource } from '../../src/config/yaml-source.js';
import { locatedProblems } from '../helpers/located-problems.js';

const fixture = (name: string) => resolve('test/fixtures/config', name);

const problemsOf = (name: string) => locatedProblems(() => loadConfig(fixture(name)), `${fixture(name)}:`);

describe('a valid config', () => {
  test('fills every default and resolves paths against the config file', () => {
    const loaded = loadConfig(fixture('valid-minimal.yaml'));
    expect(loaded.config.server).toEqual({
      host: '127.0.0.1',
      port: 8400,
      trust_proxy: false,
      body_limit: '16kb',
      shutdown_grace: 10_000,
      keep_alive_timeout: 65_000,
      readiness: 'any',
      workers: 1,
      // Probes and metrics on loopback unless an operator opens them up.
      ops: { host: '127.0.0.1', port: 9400, upstream_probe: { interval: 15_000, timeout: 2_000 } },
    });
    expect(loaded.config.tokens).toEqual({ default_ttl: 300_000, max_ttl: 3_600_000 });
    expect(loaded.config.directories.corp).toMatchObject({ allow_insecure_http: false, timeout: 5000, claims: { subject: 'sub', groups: 'groups' } });
    expect(loaded.config.rate_limits.per_client).toEqual({ requests: 120, per: 60_000 });
    expect(loaded.paths).toEqual({
      policyFile: fixture('policy.yaml'),
      keysDir: fixture('keys'),
      airflowKeysDir: fixture('keys/airflow'),
      airflowPublishAlso: [],
      revocationDb: fixture('data/revocations.sqlite'),
      auditFile: undefined,
    });
  });

  test('examples/config.yaml loads', () => {
    process.env.AIRFLOW_PROXY_PASSWORD = 'proxy-pass';
    process.env.LOGIN_CLIENT_SECRET = 'demo-console-secret';
    const loaded = loadConfig('examples/config.yaml');
    delete process.env.AIRFLOW_PROXY_PASSWORD;
    delete process.env.LOGIN_CLIENT_SECRET;
    expect(loaded.config.directories.dev?.allow_insecure_http).toBe(true);
    expect(loaded.config.upstreams.local?.credentials).toMatchObject({ mode: 'service-account', password: 'proxy-pass' });
    expect(loaded.config.login).toMatchObject({ directory: 'dev', client_secret: 'demo-console-secret' });
    expect(loaded.config.upstreams.local?.console).toEqual({ enabled: true, frame_ancestors: [] });
  });
});

describe('a broken config is refused with every problem located', () => {
  beforeAll(() => (process.env.ATB_TEST_FIXTURE_LOGIN_SECRET = 'x'));
  test.each<[string, string[]]>([
    // Regression: an unknown key was located at the first line of its map, not at the key.
    ['unknown-key.yaml', ['5:3 error: server.hots: unknown key']],
    ['wrong-type.yaml', ['4:9 error: server.port: Invalid input: expected number, received string']],
    ['missing-issuer.yaml', ['5:5 error: directories.corp.issuer: missing required key']],
    ['invalid-name.yaml', ['4:3 error: directories.Corp: invalid name "Corp": use lower-case letters, digits, "-" and "_"']],
    ['syntax-error.yaml', ['5:1 error: Flow sequence in block collection must be sufficiently indented and end with a ]']],
    ['duplicate-key.yaml', ['9:1 error: Map keys must be unique']],
    ['http-issuer.yaml', ['5:13 error: directories.corp.issuer: http issuer needs allow_insecure_http: true']],
    [
      'two-client-credentials.yaml',
      ['11:7 error: directories.partner.client_credentials: only one directory may check client credentials (already: corp)'],
    ],
    ['unknown-default-upstream.yaml', ['9:19 error: default_upstream: no upstream named "production"']],
    // Regression: the check used `in`, so `constructor` (inherited from Object.prototype) passed as an upstream.
    ['default-upstream-prototype-member.yaml', ['9:19 error: default_upstream: no upstream named "constructor"']],
    ['same-audience.yaml', ['10:15 error: upstreams.staging.audience: same audience as upstream "prod"']],
    ['workers-with-audit-file.yaml', ['3:12 error: server.workers: several workers cannot rotate one audit file: send audit to stdout or stderr']],
    ['ops-same-port.yaml', ['4:16 error: server.ops.port: the ops listener needs a port of its own']],
    // A long poll cut by the grace would end without its going-away line.
    ['stream-limit-past-grace.yaml', ['4:26 error: server.shutdown_stream_limit: must be shorter than shutdown_grace, so that a long poll ends with its line before the grace runs out']],
    ['redis-without-url.yaml', ['6:3 error: revocation.redis: store: redis needs revocation.redis.url']],
    ['session-redis-without-url.yaml', ['10:18 error: login.session_store.redis: store: redis needs login.session_store.redis.url']],
    // Each worker would hold its own sessions: a login on one would be unknown to the next request's worker.
    [
      'workers-with-memory-sessions.yaml',
      ['3:12 error: server.workers: several workers cannot share a memory session store: use login.session_store.store sqlite or redis'],
    ],
    // Credentials an Airflow 2 upstream cannot use are refused at config check, not at the first call.
    [
      'airflow2-credentials.yaml',
      [
        '12:7 error: upstreams.simple.credentials.identity.auth_manager: Airflow 2 (api: v1) trusts these tokens through the companion auth backend, which names callers as FAB users: set identity.auth_manager: fab',
        '19:19 error: upstreams.no-issuer.credentials.jwt_issuer: the companion auth backend requires an issuer: leave jwt_issuer out to use the broker\'s issuer',
        '28:17 error: upstreams.colon.credentials.username: HTTP Basic (Airflow 2) cannot carry a ":" in the user name',
      ],
    ],
    ['bad-duration.yaml', ['4:16 error: tokens.default_ttl: "10 minutes" is not a duration (use e.g. 30s, 10m, 1h)']],
    [
      'directory-claims.yaml',
      [
        '6:23 error: directories.corp.claims.groups: not a valid RFC 6901 JSON Pointer (escape "~" as ~0 and "/" as ~1)',
        '8:57 error: directories.corp.token_exchange.algorithms: set only the directory\'s algorithms: token_exchange.algorithms is its deprecated alias',
        '11:18 error: directories.partner.algorithms[0]: Invalid option: expected one of "RS256"|"RS384"|"RS512"|"PS256"|"PS384"|"PS512"|"ES256"|"ES384"|"ES512"|"EdDSA"',
      ],
    ],
    // Regression: the http issuer check ran only once everything else was valid, so it hid behind other mistakes.
    [
      'several-problems.yaml',
      [
        '1:9 error: issuer: Invalid URL',
        '1:1 error: policy_file: missing required key',
        '5:14 error: directories.corp.timeout: "10 minutes" is not a duration (use e.g. 30s, 10m, 1h)',
        '7:13 error: directories.legacy.issuer: http issuer needs allow_insecure_http: true',
        '10:15 error: upstreams.prod.audience: Too small: expected string to have >=1 characters',
        '12:10 error: logging.level: Invalid option: expected one of "fatal"|"error"|"warn"|"info"|"debug"|"trace"|"silent"',
      ],
    ],
  ])('%s', (name, expected) => {
    process.env.ATB_TEST_AIRFLOW2_PASSWORD = 'proxy-pass';
    expect(problemsOf(name)).toEqual(expected);
  });

  test('the error message names the file and lists every problem', () => {
    const file = fixture('several-problems.yaml');
    expect(() => loadConfig(file)).toThrow(`${file} is invalid:\n${file}:1:9 error: issuer: Invalid URL\n${file}:1:1 error: policy_file`);
  });
});

describe('config warnings', () => {
  test('realm-roles-cannot-be-bound: a dotted groups name and the deprecated token_exchange.algorithms are flagged', () => {
    const loaded = loadConfig(fixture('directory-warnings.yaml'));
    expect(configWarnings(loaded.config, YamlSource.read(loaded.file)).map((w) => formatProblem(w).replace(`${loaded.file}:`, ''))).toEqual([
      '6:23 warning: directories.corp.claims.groups: "realm_access.roles" is the top-level claim of that name; for a nested claim write a JSON Pointer: did you mean "/realm_access/roles"?',
      '7:45 warning: directories.corp.token_exchange.algorithms: deprecated: write it as directories.corp.algorithms (it applies to client credentials and token exchange alike)',
    ]);
    expect(loaded.config.directories.entra?.claims.groups).toBe('/roles');
  });
});

describe('secretRef', () => {
  const schema = z.strictObject({ client_secret: secretRef() });
  const saved = process.env.ATB_TEST_SECRET;
  afterEach(() => {
    if (saved === undefined) delete process.env.ATB_TEST_SECRET;
    else process.env.ATB_TEST_SECRET = saved;
  });
  const messages = (input: unknown) => schema.safeParse(input).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);

  test('refuses an inline secret', () => {
    process.env.ATB_TEST_SECRET = 's3cret';
    expect(messages({ client_secret: 's3cret' })).toEqual(['client_secret: secrets must be given as ${ENV_VAR} references, never inline']);
  });

  test('refuses a reference that is not the whole value', () => {
    process.env.ATB_TEST_SECRET = 's3cret';
    expect(messages({ client_secret: 'prefix-${ATB_TEST_SECRET}' })).toHaveLength(1);
  });

  test('reports an unset or empty variable', () => {
    delete process.env.ATB_TEST_SECRET;
    expect(messages({ client_secret: '${ATB_TEST_SECRET}' })).toEqual(['client_secret: environment variable ATB_TEST_SECRET is not set']);
    process.env.ATB_TEST_SECRET = '';
    expect(messages({ client_secret: '${ATB_TEST_SECRET}' })).toEqual(['client_secret: environment variable ATB_TEST_SECRET is not set']);
  });

  test('resolves a set variable', () => {
    process.env.ATB_TEST_SECRET = 's3cret';
    expect(schema.parse({ client_secret: '${ATB_TEST_SECRET}' })).toEqual({ client_secret: 's3cret' });
  });
});
