import { buildErrorResponse } from '../../src/errors/error-response.js';
import { directoryUnavailable, OAuthError } from '../../src/errors/oauth-error.js';

const challenge = { scheme: 'Bearer', realm: 'r' } as const;

/** What `expose` lets through: the policy choice documented in docs/security-model.md. */
describe('error responses and expose', () => {
  it('a server_error is not exposed by default: its code alone, logged at error level', () => {
    const r = buildErrorResponse(new OAuthError('server_error', 'no signing key is active'), challenge);
    expect(r).toEqual({ status: 500, headers: { 'Cache-Control': 'no-store' }, body: { error: 'server_error' }, level: 'error' });
  });

  it('anything not ours is a bare server_error', () => {
    expect(buildErrorResponse(new Error('ECONNREFUSED 10.0.0.7:6379'), challenge).body).toEqual({ error: 'server_error' });
  });

  it('dependency failures meant for callers keep their description, logged at warn', () => {
    const r = buildErrorResponse(directoryUnavailable(new Error('socket hang up')), challenge);
    expect(r.body).toEqual({ error: 'temporarily_unavailable', error_description: 'the central directory is unavailable, retry later' });
    expect(r.level).toBe('warn');
    for (const code of ['upstream_error', 'upstream_timeout'] as const) {
      expect(buildErrorResponse(new OAuthError(code, 'Airflow did not answer in time'), challenge).body.error_description).toBe('Airflow did not answer in time');
    }
  });

  it('an error marked not exposed keeps status, code and Retry-After, never its text or extra members', () => {
    const err = new OAuthError('temporarily_unavailable', 'redis 10.0.0.7 refused', { retryAfter: 2, expose: false, extra: { reason: 'x' } });
    const r = buildErrorResponse(err, challenge);
    expect(r).toEqual({ status: 503, headers: { 'Cache-Control': 'no-store', 'Retry-After': '2' }, body: { error: 'temporarily_unavailable' }, level: 'error' });
  });

  it('a 401 not exposed names its code in the challenge, not its description', () => {
    const r = buildErrorResponse(new OAuthError('invalid_token', 'kid k-17 missing from /etc/keys', { expose: false }), challenge);
    expect(r.headers['WWW-Authenticate']).toBe('Bearer realm="r", error="invalid_token"');
    expect(r.body).toEqual({ error: 'invalid_token' });
  });

  it('client errors are exposed, logged at debug', () => {
    const r = buildErrorResponse(new OAuthError('invalid_scope', 'scope etl is not bound'), challenge);
    expect(r.body).toEqual({ error: 'invalid_scope', error_description: 'scope etl is not bound' });
    expect(r.level).toBe('debug');
  });
});

describe("Airflow's `detail` member (the proxy's answers)", () => {
  const proxy = { scheme: 'Bearer', realm: 'r', detail: true } as const;

  it('an exposed error repeats its description as detail', () => {
    const r = buildErrorResponse(new OAuthError('insufficient_scope', 'the token does not allow read on dags x', { extra: { reason: 'no-matching-grant' } }), proxy);
    expect(r.body).toEqual({ error: 'insufficient_scope', error_description: 'the token does not allow read on dags x', detail: 'the token does not allow read on dags x', reason: 'no-matching-grant' });
  });

  it('an error not exposed gains no detail: its text stays in the log', () => {
    expect(buildErrorResponse(new OAuthError('server_error', 'no signing key is active'), proxy).body).toEqual({ error: 'server_error' });
  });

  it('elsewhere (the OAuth endpoints) there is no detail', () => {
    expect(buildErrorResponse(new OAuthError('invalid_request', 'x'), challenge).body).not.toHaveProperty('detail');
  });
});
