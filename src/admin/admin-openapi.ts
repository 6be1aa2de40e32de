/**
 * The OpenAPI 3.1 document of the admin API, served at `GET /admin/openapi.json`. The admin router's tests check
 * that every route it serves is documented here and every documented route is served.
 */
const error = { $ref: '#/components/responses/Error' };

export const adminOpenApi = {
  openapi: '3.1.0',
  info: {
    title: 'airflow-token-broker admin API',
    version: '1',
    description:
      'For security admins. Every call needs a broker access token whose audience is `<issuer>/admin` and whose ' +
      'roles include one with `admin: true` in the current policy.',
  },
  security: [{ bearer: [] }],
  paths: {
    '/admin/policy': {
      get: {
        operationId: 'getPolicy',
        summary: 'The policy in force, its sha256 hash, when it was loaded and the last refused reload',
        responses: { '200': { description: 'The current policy', content: { 'application/json': { schema: { $ref: '#/components/schemas/PolicyStatus' } } } }, '401': error, '403': error },
      },
    },
    '/admin/policy/reload': {
      post: {
        operationId: 'reloadPolicy',
        summary: 'Re-read the policy file now; a bad file is refused and the last good policy stays in force',
        responses: {
          '200': { description: 'Reloaded or unchanged', content: { 'application/json': { schema: { $ref: '#/components/schemas/ReloadResult' } } } },
          '422': { description: 'Refused, with every problem located', content: { 'application/json': { schema: { $ref: '#/components/schemas/ReloadResult' } } } },
          '401': error,
          '403': error,
        },
      },
    },
    '/admin/explain': {
      post: {
        operationId: 'explain',
        summary: 'What the proxy decides for a token or an identity and one Airflow API call, and which rule says so',
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/ExplainRequest' } } } },
        responses: { '200': { description: 'The explanation (same evaluator as the proxy)', content: { 'application/json': { schema: { type: 'object' } } } }, '400': error, '401': error, '403': error },
      },
    },
    '/admin/revocations': {
      post: {
        operationId: 'revoke',
        summary:
          'Revoke one token by jti, or every token of a subject or a client issued until now (persisted); by subject or ' +
          'client it also blocks new tokens for it, by every grant, until the block is lifted',
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/RevocationRequest' } } } },
        responses: {
          '201': { description: 'Revoked (and blocked)', content: { 'application/json': { schema: { $ref: '#/components/schemas/RevocationRequest' } } } },
          '400': error,
          '401': error,
          '403': error,
          '503': { description: 'The revocation store could not store it: nothing was revoked, retry', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
        },
      },
    },
    '/admin/blocks': {
      get: {
        operationId: 'listBlocks',
        summary: 'The subjects and clients refused new tokens (placed by a revocation by sub or client_id), oldest first',
        responses: {
          '200': { description: 'Every block in force', content: { 'application/json': { schema: { type: 'object', properties: { blocks: { type: 'array', items: { $ref: '#/components/schemas/IssuanceBlock' } } } } } } },
          '401': error,
          '403': error,
          '503': error,
        },
      },
    },
    '/admin/blocks/{kind}/{value}': {
      delete: {
        operationId: 'liftBlock',
        summary: 'Lift a block: new tokens are issued again. Tokens revoked with it stay revoked',
        parameters: [
          { name: 'kind', in: 'path', required: true, schema: { enum: ['sub', 'client_id'] } },
          { name: 'value', in: 'path', required: true, schema: { type: 'string' }, description: 'The subject or client id, URL-encoded' },
        ],
        responses: {
          '200': {
            description: 'Lifted (`lifted: true`), or there was no such block (`lifted: false`)',
            content: { 'application/json': { schema: { type: 'object', required: ['kind', 'value', 'lifted'], properties: { kind: { type: 'string' }, value: { type: 'string' }, lifted: { type: 'boolean' } } } } },
          },
          '400': error,
          '401': error,
          '403': error,
          '503': error,
        },
      },
    },
    '/admin/decisions': {
      get: {
        operationId: 'recentDecisions',
        summary: 'The recent proxy decisions of this instance for a subject or a client, newest first',
        parameters: [
          { name: 'sub', in: 'query', schema: { type: 'string' } },
          { name: 'client_id', in: 'query', schema: { type: 'string' } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 50 } },
        ],
        responses: { '200': { description: 'Decision audit records', content: { 'application/json': { schema: { type: 'object', properties: { decisions: { type: 'array', items: { type: 'object' } } } } } } }, '400': error, '401': error, '403': error },
      },
    },
    '/admin/openapi.json': {
      get: { operationId: 'openapi', summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI 3.1' } } },
    },
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    responses: {
      Error: { description: 'RFC 6749 style error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
    },
    schemas: {
      Error: { type: 'object', required: ['error'], properties: { error: { type: 'string' }, error_description: { type: 'string' }, reason: { type: 'string' } } },
      PolicyStatus: {
        type: 'object',
        required: ['hash', 'loaded_at', 'policy'],
        properties: {
          hash: { type: 'string' },
          loaded_at: { type: 'string', format: 'date-time' },
          last_reload_error: { type: ['object', 'null'] },
          policy: { type: 'object', description: 'The policy document as loaded (defaults filled in)' },
        },
      },
      ReloadResult: {
        type: 'object',
        required: ['outcome'],
        properties: { outcome: { enum: ['reloaded', 'unchanged', 'refused'] }, hash: { type: 'string' }, old_hash: { type: 'string' }, new_hash: { type: 'string' }, problems: { type: 'array', items: { type: 'string' } } },
      },
      ExplainRequest: {
        type: 'object',
        required: ['method', 'path'],
        properties: {
          method: { type: 'string', examples: ['POST'] },
          path: {
            type: 'string',
            description: 'Below the API root, with it (`/api/v2/...`, `/api/v1/...` for an Airflow 2 upstream), or the proxy path',
            examples: ['/api/v2/dags/etl_daily/dagRuns'],
          },
          body: { description: 'The JSON body of the call, when it carries resource ids' },
          deployment: {
            type: 'string',
            description: 'The upstream to decide on, when the path does not name it (`/airflow/<upstream>/api/v2/...`); a bare path is read with its API version (`upstreams.<name>.api`): grants limited to deployments apply only there',
          },
          token: { type: 'string', description: 'A broker access token (decoded, its signature is not checked here)' },
          claims: {
            type: 'object',
            description:
              'Either `scope` (role names) [+ `authorization_details`], or identity claims bound by the policy: `client_id`, `sub`, ' +
              '`groups`, `directory`, and any (nested) claim a `when.claims` pointer reads, e.g. `{"realm_access": {"roles": ["airflow-etl"]}}`',
            additionalProperties: true,
            properties: { scope: { type: 'string' }, client_id: { type: 'string' }, sub: { type: 'string' }, groups: { type: 'array', items: { type: 'string' } }, directory: { type: 'string' } },
          },
        },
      },
      IssuanceBlock: {
        type: 'object',
        required: ['kind', 'value', 'since', 'by'],
        properties: {
          kind: { enum: ['sub', 'client_id'] },
          value: { type: 'string', examples: ['svc-etl'] },
          since: { type: 'string', format: 'date-time' },
          by: { type: 'string', description: 'The `sub` of the admin who placed it' },
        },
      },
      RevocationRequest: {
        type: 'object',
        description: 'Exactly one of the three',
        properties: { jti: { type: 'string' }, sub: { type: 'string' }, client_id: { type: 'string' } },
      },
    },
  },
} as const;
