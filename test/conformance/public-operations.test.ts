import { useStandIn } from '../helpers/recording-upstream.js';

/**
 * Airflow's public operations (issue #11, item 6): `/api/v2/version` and `/api/v2/monitor/health` need no
 * authentication in Airflow 3 (`api_fastapi/core_api/routes/public/__init__.py` mounts them outside the
 * authenticated router), so load-balancer probes and `airflowctl version --remote` call them without a token. The
 * proxy serves them without one and sends Airflow no credentials; a token sent along only names the caller in the audit.
 * Everything else still needs a valid token.
 */
const standIn = useStandIn();

const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => fetch(`${standIn.broker.url}/airflow/prod/api/v2${path}`, { method, headers });

describe('public operations', () => {
  it.each(['/version', '/monitor/health'])('public-operation-needs-no-token: GET %s is served without one', async (path) => {
    const res = await get(path);
    expect(res.status).toBe(200);
    expect(standIn.upstream.seen).toHaveLength(1);
    expect(standIn.upstream.seen[0]!.url).toBe(`/api/v2${path}`);
  });

  it('public-operation-sends-no-credentials: Airflow gets no Authorization of the proxy, nor the caller\'s', async () => {
    await get('/version');
    await get('/version', { authorization: `Bearer ${standIn.token}` });
    expect(standIn.upstream.seen).toHaveLength(2);
    for (const seen of standIn.upstream.seen) {
      expect(seen.headers.authorization).toBeUndefined();
      expect(seen.headers.cookie).toBeUndefined();
    }
    expect(standIn.upstream.logins).toBe(0);
  });

  it('public-operation-with-a-forged-token: answered as without one, the token goes nowhere, the audit says why it was refused', async () => {
    const res = await get('/monitor/health', { authorization: 'Bearer eyJhbGciOiJub25lIn0.e30.' });
    expect(res.status).toBe(200);
    expect(standIn.upstream.seen[0]!.headers.authorization).toBeUndefined();
    expect(standIn.broker.audit.decisions.at(-1)).toMatchObject({ decision: 'allow', reason: 'public-operation', token_rejection: 'not_compact', client_id: undefined });
  });

  it('public-operation-with-a-valid-token: the audit names its client, the token is not forwarded', async () => {
    await get('/version', { authorization: `Bearer ${standIn.token}` });
    expect(standIn.upstream.seen[0]!.headers.authorization).toBeUndefined();
    expect(standIn.broker.audit.decisions.at(-1)).toMatchObject({ decision: 'allow', reason: 'public-operation', client_id: 'demo-etl', token_rejection: undefined });
  });

  it('public-operation-audit: decision allow, reason public-operation', async () => {
    await get('/version');
    expect(standIn.broker.audit.decisions.at(-1)).toMatchObject({ decision: 'allow', reason: 'public-operation', operation: 'get_version', path: '/version', deployment: 'prod' });
  });

  it('public-lookalike-path-needs-a-token: a path below /version or /monitor is not public', async () => {
    for (const path of ['/version/x', '/monitor', '/monitor/health/x', '/monitor%2Fhealth']) {
      const res = await get(path);
      expect(res.status).not.toBe(200);
    }
    expect(standIn.upstream.seen).toHaveLength(0);
  });

  it('public-operation-with-another-method: POST /version is not served', async () => {
    const res = await get('/version', {}, 'POST');
    expect(res.status).toBe(405);
    expect(standIn.upstream.seen).toHaveLength(0);
  });

  it('control: every other operation still needs a valid token', async () => {
    const res = await get('/dags');
    expect(res.status).toBe(401);
    expect(standIn.upstream.seen).toHaveLength(0);
  });
});
