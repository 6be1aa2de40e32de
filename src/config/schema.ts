import { z } from 'zod';
import { duration } from './duration.js';
import { deploymentConsole } from './console-schema.js';
import { deploymentCors, tokenEndpointCors } from './cors-schema.js';
import { secretRef } from './secret-ref.js';
import { loginSchema } from './login-schema.js';
import { parseClaimPointer } from '../policy/claim-pointer.js';
import { SubjectTemplate } from '../airflow/credentials/subject-template.js';
import { redisConnection } from './redis-schema.js';

/**
 * The operator configuration: the single source of truth for every option. `docs/configuration.md` is
 * generated from the descriptions below (`npm run docs:config`) and a test fails when it is stale.
 */

export { secretRef } from './secret-ref.js';

const httpUrl = z.url({ protocol: /^https?$/ });
const name = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'use lower-case letters, digits, "-" and "_"');
/** An upstream's name: the policy's `deployments` lists name upstreams by the same rule. */
export const upstreamName = name;

const rateLimit = z
  .strictObject({
    requests: z.number().int().positive().meta({ description: 'Requests allowed per window.' }),
    per: duration().meta({ description: 'Window length, e.g. `1m`.' }),
  })
  .meta({ description: 'A token bucket: `requests` per `per`, refilled continuously.' });

/** The asymmetric JWS algorithms a directory's tokens may be signed with (never `none`, never HS*). */
export const DIRECTORY_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export type DirectoryAlgorithm = (typeof DIRECTORY_ALGORITHMS)[number];
const directoryAlgorithms = z.array(z.enum(DIRECTORY_ALGORITHMS)).min(1);

const directory = z
  .strictObject({
    issuer: httpUrl.meta({
      description:
        'Issuer URL of the OpenID provider. Discovery reads `<issuer>/.well-known/openid-configuration`; the ' +
        '`iss` of its tokens must equal this exactly.',
      examples: ['https://login.example.com/realms/corp'],
    }),
    allow_insecure_http: z.boolean().default(false).meta({
      description: 'Allow an `http:` issuer. Only for a directory on loopback in development.',
    }),
    timeout: duration().prefault('5s').meta({ description: 'Timeout of every call to this directory.' }),
    claims: z
      .strictObject({
        subject: z.string().default('sub').meta({ description: 'Claim holding the subject.' }),
        client_id: z
          .array(z.string())
          .min(1)
          .default(['client_id', 'azp'])
          .meta({ description: 'Claims holding the client id, tried in order.' }),
        groups: z
          .string()
          .min(1)
          .refine((c) => !c.startsWith('/') || parseClaimPointer(c) !== undefined, 'not a valid RFC 6901 JSON Pointer (escape "~" as ~0 and "/" as ~1)')
          .default('groups')
          .meta({
            description:
              'Claim holding the groups or roles that policy bindings match (`when.groups`): a top-level claim ' +
              'name, or an RFC 6901 JSON Pointer starting with `/` for a nested one (Keycloak realm roles: ' +
              '`/realm_access/roles`, client roles: `/resource_access/<client>/roles`). It must be an array of ' +
              'strings (absent: no groups); any other shape refuses the token. A name is never split at dots. ' +
              'Bindings can match any other claim with `when.claims`.',
            examples: ['/realm_access/roles'],
          }),
        groups_may_be_string: z.boolean().default(false).meta({
          description:
            'Also accept a single string in the groups claim, as one group. Only for a directory that sends ' +
            'one group that way; by default a string is refused, never split or guessed at.',
        }),
      })
      .prefault({})
      .meta({ description: 'Where the identity is read from in the directory tokens.' }),
    algorithms: directoryAlgorithms.optional().meta({
      description:
        'Signature algorithms accepted on this directory\'s tokens, on every path (its client-credentials access ' +
        'tokens and token-exchange subject tokens). Default: what its discovery document says it signs with ' +
        '(`id_token_signing_alg_values_supported`) among these asymmetric algorithms, or RS256, PS256, ES256 and ' +
        'EdDSA when it names none of them. `none` and HS* are never accepted.',
      examples: [['RS256']],
    }),
    client_credentials: z
      .strictObject({
        auth_method: z
          .enum(['client_secret_basic', 'client_secret_post'])
          .default('client_secret_basic')
          .meta({ description: 'How the broker presents the caller\'s client credentials to the directory.' }),
        client_auth_methods: z
          .array(z.enum(['client_secret_basic', 'client_secret_post']))
          .min(1)
          .default(['client_secret_basic', 'client_secret_post'])
          .meta({
            description:
              'How clients may present their credentials AT THE BROKER (token, introspection and revocation ' +
              'endpoints), RFC 6749 §2.3.1; any other method is `invalid_client`. Name what the directory registered ' +
              'its clients for (e.g. only `client_secret_basic`). The RFC 8414 metadata lists these.',
            examples: [['client_secret_basic']],
          }),
        scope: z.string().optional().meta({ description: '`scope` sent to the directory (Entra: `api://<app>/.default`).' }),
        resource: z.string().optional().meta({ description: 'RFC 8707 `resource` sent to the directory.' }),
        audience: z.string().meta({
          description: 'Expected `aud` of the access token the directory returns; the identity is read from it.',
          examples: ['urn:airflow-token-broker'],
        }),
      })
      .optional()
      .meta({
        description:
          'Service accounts authenticate at this directory: the broker checks their credentials with a ' +
          'client-credentials grant there. At most one directory may set it.',
      }),
    token_exchange: z
      .strictObject({
        audiences: z.array(z.string()).min(1).meta({ description: 'Accepted `aud` values of subject tokens.' }),
        token_types: z
          .array(z.enum(['access_token', 'id_token', 'jwt']))
          .min(1)
          .default(['access_token', 'id_token', 'jwt'])
          .meta({
            description:
              'Accepted RFC 8693 `subject_token_type`s (`urn:ietf:params:oauth:token-type:*`). The token must also ' +
              'be of the declared type (see `type_claim` and docs/security-model.md): an `access_token` must say ' +
              'it is one, an `id_token` must not say it is an access token, a `jwt` may be either.',
          }),
        type_claim: z
          .strictObject({
            name: z.string().min(1).default('typ').meta({ description: 'The claim (Keycloak: `typ`, Cognito: `token_use`).' }),
            access_token: z.array(z.string()).default(['Bearer']).meta({ description: 'Its values on access tokens.' }),
            id_token: z.array(z.string()).default(['ID']).meta({ description: 'Its values on ID tokens.' }),
          })
          .prefault({})
          .meta({
            description:
              'A claim in which the directory names the type of its tokens. Any other value of it (Keycloak ' +
              '`Refresh`, `Logout`) refuses the token.',
            examples: [{ name: 'token_use', access_token: ['access'], id_token: ['id'] }],
          }),
        algorithms: directoryAlgorithms.optional().meta({
          description:
            'Deprecated alias of the directory\'s `algorithms` (it now applies to both paths); `config check` warns. ' +
            'Setting both is an error.',
        }),
        max_age: duration().optional().meta({
          description: 'Refuse subject tokens issued longer ago than this. (An `iat` in the future is always refused.)',
        }),
      })
      .optional()
      .meta({ description: 'Accept this directory\'s tokens as RFC 8693 `subject_token`s.' }),
  })
  .superRefine((dir, ctx) => {
    if (new URL(dir.issuer).protocol === 'http:' && !dir.allow_insecure_http) {
      ctx.addIssue({ code: 'custom', path: ['issuer'], message: 'http issuer needs allow_insecure_http: true' });
    }
    if (dir.algorithms && dir.token_exchange?.algorithms) {
      ctx.addIssue({
        code: 'custom',
        path: ['token_exchange', 'algorithms'],
        message: 'set only the directory\'s algorithms: token_exchange.algorithms is its deprecated alias',
      });
    }
  })
  .meta({ description: 'A central directory (OpenID provider) the broker trusts.' });

// Cross-field checks sit on the smallest schema that holds their fields: zod skips a refinement when its own
// value has problems, so a check on the root would stay silent until every unrelated mistake is fixed.
const directories = z
  .record(name, directory)
  .superRefine((dirs, ctx) => {
    const withCc = Object.entries(dirs).filter(([, d]) => d.client_credentials);
    if (withCc.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: [withCc[1]![0], 'client_credentials'],
        message: `only one directory may check client credentials (already: ${withCc[0]![0]})`,
      });
    }
  })
  .meta({ description: 'Trusted directories by name.' });

const serviceAccountCredentials = z
  .strictObject({
    mode: z.literal('service-account'),
    username: z.string().min(1).meta({
      description:
        'Airflow user the proxy calls as: on Airflow 3 it logs in at `POST /auth/token`; on Airflow 2 (`api: v1`, ' +
        'which has no `/auth/token`) every call carries this FAB user and the password as HTTP Basic, checked by ' +
        'the `airflow.api.auth.backend.basic_auth` backend (no `:` in the name).',
    }),
    password: secretRef(),
    refresh_before: duration().prefault('60s').meta({
      description: 'Log in again this long before the Airflow token expires (Airflow 3; unused with HTTP Basic).',
    }),
    login_backoff: duration().prefault('5s').meta({
      description:
        'After a failed login (refused, an error, no answer, or a token Airflow refuses this soon after ' +
        'issuing it), calls answer 502 `upstream_error` with ' +
        '`Retry-After` for this long without logging in again: a broken credential costs Airflow one login per ' +
        'interval, not one per request. On Airflow 2 (HTTP Basic) a 401, or a 403 that a probe (`GET ' +
        '/api/v1/dags?limit=1`) pins on the password, starts the same back-off: no call reaches Airflow until it ' +
        'has passed.',
    }),
  })
  .meta({ description: 'The proxy calls Airflow as one Airflow user; the policy decides what each caller may do.' });

const fabRoleNames = (fabRole: string) =>
  z.array(z.string().min(1)).min(1).default([fabRole]).meta({
    description: `FAB roles for callers whose Airflow role is \`${fabRole.toLowerCase()}\`.`,
  });

/** Who the caller is in Airflow: the `sub` of the minted per-caller token. */
const callerIdentity = z
  .strictObject({
    subject: z
      .string()
      .default('{sub}')
      .superRefine((text, ctx) => {
        const problem = SubjectTemplate.problem(text);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .meta({
        description:
          'Template over the caller\'s verified access-token claims (`{sub}`, `{client_id}`, `{iss}`, or any other ' +
          'claim name in braces; text outside braces is kept): the name Airflow records as the caller. A call whose ' +
          'token lacks a named claim, or where it is not a non-empty string, is refused (403 ' +
          '`identity-claim-missing`). Directory claims are not copied into access tokens: only the claims the broker ' +
          'issues are available.',
        examples: ['{sub}', '{client_id}', 'broker:{sub}'],
      }),
    auth_manager: z.enum(['simple', 'fab']).default('simple').meta({
      description:
        'Airflow\'s auth manager: `simple` (SimpleAuthManager: `sub` is the user name, `role` the role), or `fab`: ' +
        'the tokens also carry `fab_username` (= the subject) and `fab_roles`, read by the companion auth manager ' +
        '`airflow_token_broker.fab_auth_manager.TokenBrokerFabAuthManager` (Airflow 3) or the companion auth ' +
        'backend `airflow_token_broker.airflow2_auth` (Airflow 2, `api: v1`, where `fab` is required), which find ' +
        'or provision the FAB user (companions/, docs/airflow.md).',
    }),
    fab_roles: z
      .strictObject({
        viewer: fabRoleNames('Viewer'),
        user: fabRoleNames('User'),
        op: fabRoleNames('Op'),
        admin: fabRoleNames('Admin'),
      })
      .prefault({})
      .meta({
        description:
          'With `auth_manager: fab`: the FAB roles (`fab_roles` claim) for the caller\'s Airflow role. Airflow ' +
          'grants them only to users it provisions, and only those in `[token_broker] fab_provision_roles`.',
        examples: [{ user: ['User', 'ETL Operators'] }],
      }),
  })
  .meta({ description: 'How the caller is named in Airflow.' });

const trustedJwksCredentials = z
  .strictObject({
    mode: z.literal('trusted-jwks'),
    jwt_audience: z.string().min(1).default('apache-airflow').meta({
      description: 'Airflow\'s `[api_auth] jwt_audience` (one value). Never the Execution API audience.',
    }),
    jwt_issuer: z.string().optional().meta({
      description:
        'The `iss` of the minted tokens: Airflow 3\'s `[api_auth] jwt_issuer` if set there, the companion\'s ' +
        '`[token_broker] issuer` on Airflow 2. Unset: the broker\'s `issuer`.',
    }),
    token_ttl: duration().prefault('5m').meta({ description: 'Lifetime of the per-caller Airflow tokens.' }),
    default_airflow_role: z.enum(['viewer', 'user', 'op', 'admin']).optional().meta({
      description: 'Airflow role for callers whose roles set no `airflow_role` (default: refuse).',
    }),
    identity: callerIdentity.prefault({}),
  })
  .refine((c) => c.jwt_audience !== 'urn:airflow.apache.org:task', {
    message: 'the Execution API audience is never minted',
    path: ['jwt_audience'],
  })
  .meta({
    description:
      'The broker mints a short-lived Airflow JWT per caller, signed with a key Airflow trusts through ' +
      '`[api_auth] trusted_jwks_url`; Airflow\'s audit log then names the real caller.',
  });

/**
 * What Airflow 2 (`api: v1`) cannot work with: HTTP Basic carries no `:` in a user name, and the companion auth
 * backend maps callers to FAB users (Airflow 2's API is always FAB) and requires `iss`.
 */
function airflow2CredentialProblems(c: z.output<typeof serviceAccountCredentials> | z.output<typeof trustedJwksCredentials>): { path: string[]; message: string }[] {
  if (c.mode === 'service-account') {
    return c.username.includes(':') ? [{ path: ['credentials', 'username'], message: 'HTTP Basic (Airflow 2) cannot carry a ":" in the user name' }] : [];
  }
  const problems: { path: string[]; message: string }[] = [];
  if (c.identity.auth_manager !== 'fab') {
    problems.push({
      path: ['credentials', 'identity', 'auth_manager'],
      message: 'Airflow 2 (api: v1) trusts these tokens through the companion auth backend, which names callers as FAB users: set identity.auth_manager: fab',
    });
  }
  if (c.jwt_issuer === '') {
    problems.push({ path: ['credentials', 'jwt_issuer'], message: 'the companion auth backend requires an issuer: leave jwt_issuer out to use the broker\'s issuer' });
  }
  return problems;
}

const upstream = z
  .strictObject({
    audience: z.string().min(1).meta({
      description:
        'The `aud` of tokens for this deployment; clients name it with `resource` (RFC 8707) or `audience`.',
      examples: ['https://airflow.example.com'],
    }),
    description: z.string().optional(),
    url: httpUrl.optional().meta({
      description: 'Base URL of the Airflow API server (without the API root). Without it, no proxy route is served.',
      examples: ['http://airflow-api:8080'],
    }),
    api: z.enum(['v1', 'v2']).default('v2').meta({
      description:
        'The Airflow REST API the proxy serves for this deployment: `v2` (Airflow 3, `/api/v2`) or `v1` ' +
        '(Airflow 2, `/api/v1`). Only that root is proxied (`<path_prefix>/<upstream>/api/v1/...` for `v1`); the ' +
        'other answers 404. One policy file governs both.',
      examples: ['v1'],
    }),
    credentials: z
      .discriminatedUnion('mode', [serviceAccountCredentials, trustedJwksCredentials])
      .optional()
      .meta({ description: 'How the proxy authenticates to Airflow.' }),
    timeouts: z
      .strictObject({
        connect: duration().prefault('5s'),
        headers: duration().prefault('30s').meta({ description: 'Until Airflow\'s response headers arrive.' }),
        body: duration().prefault('60s').meta({ description: 'Longest pause while a response body streams.' }),
        long_poll: duration().prefault('1h').meta({
          description:
            'Longest a long-polling call (`longPoll` in the operation catalog: Airflow 3\'s ' +
            '`GET .../dagRuns/{id}/wait`) may stream. Its pauses may last its `interval` plus `body`. A cut stream ' +
            'ends with a final `{"error":"upstream_timeout",...}` NDJSON line; call `/wait` again to go on waiting.',
          examples: ['6h'],
        }),
      })
      .prefault({}),
    max_request_body: z.string().default('1mb').meta({ description: 'Largest request body the proxy accepts.' }),
    list_scan_limit: z.number().int().positive().default(10_000).meta({
      description:
        'Most items the proxy reads to filter a list for a DAG-restricted token; past it the request is refused.',
    }),
    cors: deploymentCors.optional(),
    console: deploymentConsole.prefault({}),
  })
  .refine((u) => (u.url === undefined) === (u.credentials === undefined), {
    message: 'url and credentials go together',
    path: ['credentials'],
  })
  .superRefine((u, ctx) => {
    if (u.api === 'v1' && u.credentials) for (const issue of airflow2CredentialProblems(u.credentials)) ctx.addIssue({ code: 'custom', ...issue });
  })
  .meta({ description: 'An Airflow deployment that tokens can be issued for, and that the proxy fronts.' });

const upstreams = z
  .record(name, upstream)
  .superRefine((ups, ctx) => {
    const audiences = new Map<string, string>();
    for (const [key, up] of Object.entries(ups)) {
      const other = audiences.get(up.audience);
      if (other) ctx.addIssue({ code: 'custom', path: [key, 'audience'], message: `same audience as upstream "${other}"` });
      audiences.set(up.audience, key);
    }
  })
  .meta({ description: 'Airflow deployments by name.' });

export const configSchema = z
  .strictObject({
    issuer: httpUrl.meta({
      description:
        'The broker\'s public issuer URL. Every endpoint URL is derived from it; `Host` and `X-Forwarded-*` are ' +
        'never used.',
      examples: ['https://airflow-auth.example.com'],
    }),
    server: z
      .strictObject({
        host: z.string().default('127.0.0.1').meta({ description: 'Listen address.' }),
        port: z.number().int().min(0).max(65535).default(8400).meta({ description: 'Listen port.' }),
        trust_proxy: z
          .union([z.boolean(), z.number().int().min(0), z.string()])
          .default(false)
          .meta({
            description:
              'Which proxies in front of the broker may set `X-Forwarded-For` (express `trust proxy`). Only ' +
              'used for the client IP of rate limits and logs.',
          }),
        body_limit: z.string().default('16kb').meta({ description: 'Largest accepted request body.' }),
        shutdown_grace: duration().prefault('10s').meta({
          description:
            'On SIGTERM/SIGINT: how long in-flight requests may finish. `/readyz` answers 503 at once, new connections ' +
            'are refused, answers carry `Connection: close`, the audit stream is flushed, and the process exits 0; a ' +
            'request still unanswered at the end is cut, logged, and the exit code is 1. Keep Kubernetes\' ' +
            '`terminationGracePeriodSeconds` above it (plus any `preStop` sleep).',
        }),
        shutdown_stream_limit: duration().optional().meta({
          description:
            'On shutdown: how long a long poll still streaming (`GET .../dagRuns/{id}/wait`) may go on. Then it ends with ' +
            'a final `{"error":"temporarily_unavailable",...}` NDJSON line saying the broker is shutting down: call ' +
            '`/wait` again (another instance answers). Shorter than `shutdown_grace`; default: half of it.',
          examples: ['20s'],
        }),
        keep_alive_timeout: duration().prefault('65s').meta({
          description:
            'How long an idle keep-alive connection stays open. Longer than the idle timeout of the load balancer in ' +
            'front (AWS ALB and ingress-nginx: 60 s; Google Cloud: 600 s, so raise it there), or the load balancer may ' +
            'send a request on a connection the broker is closing: a 502 to the caller. (Node\'s own default is 5 s.)',
          examples: ['620s'],
        }),
        readiness: z
          .enum(['any', 'all', 'proxy', 'issuance'])
          .default('any')
          .meta({
            description:
              'Which of the broker\'s functions must be ready for `/readyz` (both listeners) to answer 200: `issuance` ' +
              '(token endpoint: every directory discovered, a key signs), `proxy` (a published key that has signed ' +
              'verifies broker tokens). `any` (default): a directory outage does not take the proxy out of the load balancer; `all`: ' +
              'unready while either function is. The ops `/readyz` reports each function (`functions`) whatever this says.',
          }),
        workers: z
          .union([z.number().int().min(1).max(64), z.literal('auto')])
          .default(1)
          .meta({
            description:
              'Processes serving the port (`auto`: one per CPU). They share keys, revocations and the policy file; ' +
              'rate limits and the recent-decisions view are per process. Several workers need an audit stream ' +
              '(stdout/stderr), not a file.',
          }),
        ops: z
          .strictObject({
            host: z.string().default('127.0.0.1').meta({
              description:
                'Listen address of the ops listener. Keep it on loopback or a private interface (a pod IP that only ' +
                'the kubelet and Prometheus reach): it is never meant for callers.',
            }),
            port: z.number().int().min(0).max(65535).default(9400).meta({
              description: 'Port of the ops listener (`0`: any free port, for tests). Must differ from `server.port`.',
            }),
            upstream_probe: z
              .strictObject({
                interval: duration().prefault('15s').meta({ description: 'How often each deployment is probed.' }),
                timeout: duration().prefault('2s').meta({ description: 'A probe slower than this counts as down.' }),
              })
              .prefault({})
              .meta({
                description:
                  'Reachability of each proxied deployment: `GET <url>/api/v2/monitor/health` (`/api/v1/health` for a `v1` upstream) without credentials, ' +
                  'shown in `/readyz` and `atb_upstream_up`. An unreachable Airflow does not make the broker unready.',
              }),
          })
          .prefault({})
          .meta({
            description:
              'The ops listener: `/healthz`, `/readyz` with details and `/metrics`. The main listener keeps only ' +
              '`/healthz` and a bare `/readyz` (`{"status": ...}`) for load balancers, and never serves `/metrics`. ' +
              'With several workers the primary process serves it: metrics summed over the workers, readiness of each.',
          }),
      })
      .refine((s) => s.port === 0 || s.ops.port !== s.port, {
        message: 'the ops listener needs a port of its own',
        path: ['ops', 'port'],
      })
      .refine((s) => s.shutdown_stream_limit === undefined || s.shutdown_stream_limit < s.shutdown_grace, {
        message: 'must be shorter than shutdown_grace, so that a long poll ends with its line before the grace runs out',
        path: ['shutdown_stream_limit'],
      })
      .prefault({}),
    policy_file: z.string().meta({
      description: 'The policy file owned by security admins (relative paths are relative to this config file).',
      examples: ['./policy.yaml'],
    }),
    policy_watch: z.boolean().default(true).meta({
      description: 'Reload the policy when its file changes (also on SIGHUP and `POST /admin/policy/reload`).',
    }),
    keys: z
      .strictObject({
        dir: z.string().default('./keys').meta({ description: 'Directory of signing keys (shared by instances).' }),
        algorithm: z.enum(['ES256', 'EdDSA', 'RS256']).default('ES256').meta({ description: 'Algorithm of new keys.' }),
        generate_if_missing: z.boolean().default(true).meta({
          description: 'Create a first key (mode 0600) when the directory has none. Meant for development.',
        }),
        prepublish: duration().prefault('1h').meta({
          description:
            'How long `keys rotate` publishes a new broker key before it signs (`/oauth2/jwks` is cacheable for 60 s). ' +
            'The Airflow key set has its own: `keys.airflow_prepublish`.',
        }),
        reload_interval: duration().prefault('5s').meta({
          description:
            'How often the key directory is re-read; changes on a local file system are also seen at once. A deleted ' +
            'key file (a withdrawn key) stops its tokens on every instance within this interval.',
        }),
        airflow_dir: z.string().default('./keys/airflow').meta({
          description:
            'Keys that sign the per-caller Airflow tokens of `trusted-jwks` upstreams: never the client-token keys.',
        }),
        airflow_prepublish: duration().prefault('75m').meta({
          description:
            'How long `keys rotate --set airflow` publishes a new Airflow key before it signs. The default is the sum of ' +
            "Airflow's JWKS refresh (it refetches `trusted_jwks_url` at most every 3600 s and never on an unknown kid), " +
            "the cache lifetime of `/airflow/jwks.json` (0: it is sent `Cache-Control: no-store`), and 15 minutes for a " +
            'Kubernetes Secret update to reach every broker instance (kubelet sync plus its cache, about 2 minutes by ' +
            'default) and for a failed fetch Airflow retries. `keys rotate --set airflow` refuses less than 1h without `--force`.',
          examples: ['75m'],
        }),
        airflow_publish_also: z
          .array(z.strictObject({ file: z.string().min(1), kid: z.string().min(1).optional() }))
          .default([])
          .meta({
            description:
              "Public keys of Airflow's own signing key (`[api_auth] jwt_private_key_path`), published in " +
              "`/airflow/jwks.json` after the broker's Airflow keys and never used to sign, so one API server trusting " +
              "the broker's set also accepts the tokens Airflow signs itself (task tokens, UI logins). Each entry: " +
              '`file`, a PEM public key (SPKI) or a public JWK as JSON (relative to this config file), and `kid`, the kid ' +
              "Airflow signs with (its `[api_auth] jwt_kid`; default: the JWK's `kid`, else the kid Airflow computes " +
              'when `jwt_kid` is unset; required for EC keys, for which Airflow computes none). Read at start: a private ' +
              'key, an unreadable or malformed file, or a key that does not fit `keys.algorithm` (Airflow\'s ' +
              '`jwt_algorithm` is one value for all its keys) refuses the start and `config check`, naming the file. ' +
              'Airflow rotated its key? Add the new public key here and restart the broker.',
            examples: [[{ file: './airflow-jwt-public.pem' }]],
          }),
      })
      .prefault({}),
    tokens: z
      .strictObject({
        default_ttl: duration().prefault('5m').meta({
          description: 'Lifetime of an access token whose roles set no `token_ttl`.',
        }),
        max_ttl: duration().prefault('1h').meta({ description: 'No access token lives longer than this.' }),
      })
      .prefault({}),
    directories,
    upstreams,
    default_upstream: name.optional().meta({
      description: 'Deployment used when a token request names none (default: the only one, if there is one).',
    }),
    proxy: z
      .strictObject({
        path_prefix: z
          .string()
          .regex(/^\/[a-z0-9-]+$/, 'one path segment such as /airflow')
          .default('/airflow')
          .meta({ description: 'Deployments are served under `<path_prefix>/<upstream>/api/v2/...` (`/api/v1/...` for a `v1` upstream).' }),
        token_cache_size: z.number().int().positive().default(50_000).meta({
          description: 'Verified tokens kept in memory (bounded LRU); revocation is still checked on every request.',
        }),
        leeway: duration().prefault('30s').meta({
          description:
            'Clock skew tolerated on `exp`/`nbf`/`iat` of the broker\'s own tokens (proxy, admin API, introspection), ' +
            'in whole seconds (rounded up). Read at start like every key here: `SIGHUP` reloads the policy only.',
        }),
      })
      .prefault({}),
    token_endpoint_cors: tokenEndpointCors.optional(),
    // `login.cli` is the CLI login's own schema (src/config/cli-login-schema.ts), added to login's block here.
    login: loginSchema.optional(),
    rate_limits: z
      .strictObject({
        per_client: rateLimit.prefault({ requests: 120, per: '1m' }),
        per_ip: rateLimit.prefault({ requests: 600, per: '1m' }),
        max_tracked: z
          .number()
          .int()
          .positive()
          .default(100_000)
          .meta({ description: 'Most clients/addresses tracked at once per process; the least recently seen are dropped.' }),
        store: z.enum(['auto', 'process', 'redis']).default('auto').meta({
          description:
            '`redis` shares every limit between the instances behind a load balancer (N instances allow it once, not N ' +
            'times); `process` counts per process (per worker); `auto` is `redis` when `rate_limits.redis` is set or the ' +
            'revocation store is Redis, else `process`. While Redis cannot answer, each instance limits on its own.',
        }),
        redis: redisConnection('atb:rate:')
          .optional()
          .meta({ description: 'Where shared limits are kept. Default: `revocation.redis` (its URL, `key_prefix` + `rate:`).' }),
      })
      .prefault({})
      .meta({
        description:
          'Rate limits of the token, introspection and revocation endpoints; `per_ip` also counts `GET /login` (each ' +
          'writes a pending login to the session store), and `per_client` bounds the codes one person gets at ' +
          '`/oauth2/authorize` (the CLI login).',
      }),
    introspection: z
      .strictObject({
        allowed_clients: z.array(z.string()).default([]).meta({
          description:
            'Clients that may introspect any token. Any other client sees only its own tokens as active.',
        }),
      })
      .prefault({}),
    revocation: z
      .strictObject({
        store: z.enum(['sqlite', 'redis', 'memory']).default('sqlite').meta({
          description:
            '`sqlite` persists revocations in a file (survives restarts; several instances need a shared volume); ' +
            '`redis` shares them between every instance behind a load balancer; `memory` is for tests.',
        }),
        redis: redisConnection('atb:revoked:')
          .optional()
          .meta({
            description:
              'Needed when `store` is `redis`. While Redis cannot answer, token checks, revocations, introspection and ' +
              'issuance fail closed (503).',
          }),
        sqlite_path: z.string().default('./data/revocations.sqlite').meta({ description: 'SQLite file of the store.' }),
        shared_delay: duration().prefault('1s').meta({
          description:
            'How long a "not revoked" answer is reused for a token. Revocations through this instance apply at once; ' +
            'those made by another instance sharing the store, within this delay.',
        }),
      })
      .refine((r) => r.store !== 'redis' || r.redis !== undefined, { message: 'store: redis needs revocation.redis.url', path: ['redis'] })
      .prefault({}),
    audit: z
      .strictObject({
        destination: z.string().default('stdout').meta({ description: '`stdout`, `stderr` or a file path.' }),
        max_file_size: z.number().int().positive().default(100 * 1024 * 1024).meta({
          description: 'A file destination is rotated past this many bytes (`audit.log` -> `audit.log.1` ...).',
        }),
        max_files: z.number().int().min(1).max(1000).default(10).meta({ description: 'Rotated files kept.' }),
      })
      .prefault({})
      .meta({ description: 'Audit records (JSON lines): tokens issued and refused, proxy decisions, policy changes.' }),
    logging: z
      .strictObject({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .prefault({}),
  })
  .superRefine(
    (config, ctx) => {
      if (typeof config.default_upstream === 'string' && !Object.hasOwn(config.upstreams, config.default_upstream)) {
        ctx.addIssue({ code: 'custom', path: ['default_upstream'], message: `no upstream named "${config.default_upstream}"` });
      }
    },
    // Also on a partly parsed config, so this is listed together with unrelated problems.
    {
      when: ({ value: v }) =>
        typeof v === 'object' && v !== null && 'upstreams' in v && typeof v.upstreams === 'object' && v.upstreams !== null,
    },
  )
  .superRefine((config, ctx) => {
    if (config.login && !Object.hasOwn(config.directories, config.login.directory)) {
      ctx.addIssue({ code: 'custom', path: ['login', 'directory'], message: `no directory named "${config.login.directory}"` });
    }
  })
  .superRefine((config, ctx) => {
    if (config.rate_limits.store === 'redis' && !config.rate_limits.redis && config.revocation.store !== 'redis') {
      ctx.addIssue({ code: 'custom', path: ['rate_limits', 'redis'], message: 'store: redis needs rate_limits.redis.url (or revocation.store redis)' });
    }
  })
  .superRefine((config, ctx) => {
    const stream = config.audit.destination === 'stdout' || config.audit.destination === 'stderr';
    if (config.server.workers !== 1 && !stream) {
      ctx.addIssue({ code: 'custom', path: ['server', 'workers'], message: 'several workers cannot rotate one audit file: send audit to stdout or stderr' });
    }
    if (config.server.workers !== 1 && config.login?.session_store.store === 'memory') {
      ctx.addIssue({ code: 'custom', path: ['server', 'workers'], message: 'several workers cannot share a memory session store: use login.session_store.store sqlite or redis' });
    }
  });

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type DirectoryConfig = Config['directories'][string];
export type UpstreamConfig = Config['upstreams'][string];
