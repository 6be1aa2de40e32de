import { basic, tokenRequest } from '../helpers/broker-harness.js';
import { useStandIn } from '../helpers/recording-upstream.js';

/**
 * Regression (issue #11, item 3): a 403 said only `{"error":"insufficient_scope","reason":"no-matching-grant"}`. A
 * refusal names the operation, the resource kind and id and the action that was needed, carries the same text as
 * `error_description` and as Airflow's `detail` (clients print `detail`), and never the policy's contents (role
 * names, patterns, rule positions). Every refusal here happens before Airflow is asked: the stand-in sees nothing.
 */
const standIn = useStandIn();

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(`${standIn.broker.url}/airflow/prod/api/v2${path}`, {
    method,
    headers: { authorization: `Bearer ${standIn.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** What the example policy says about demo-etl; none of it may reach the wire. */
const POLICY_CONTENTS = ['etl-operator', 'etl_*', 'airflow-etl', 'allow[', 'index'];

function refusal(answer: { status: number; text: string }) {
  expect(answer.status).toBe(403);
  expect(standIn.upstream.seen).toHaveLength(0);
  for (const secret of POLICY_CONTENTS) expect(answer.text).not.toContain(secret);
  const body = JSON.parse(answer.text) as Record<string, unknown>;
  expect(body.detail).toBe(body.error_description);
  return body;
}

describe('refusal-does-not-say-what-was-refused', () => {
  it('a refused trigger names the operation, the DAG and the action needed', async () => {
    const body = refusal(await call('POST', '/dags/payroll_monthly/dagRuns', { logical_date: null }));
    expect(body).toEqual({
      error: 'insufficient_scope',
      error_description: expect.stringMatching(/trigger.*dags.*payroll_monthly|payroll_monthly.*trigger/) as unknown,
      detail: body.error_description,
      reason: 'no-matching-grant',
      operation: 'trigger_dag_run',
      resource: 'dags',
      resource_id: 'payroll_monthly',
      action: 'trigger',
    });
    expect(body.error_description).toContain('trigger_dag_run');
  });

  it('the WWW-Authenticate challenge carries the same description', async () => {
    const answer = await call('GET', '/dags/payroll_monthly');
    const body = refusal(answer);
    expect(answer.headers.get('www-authenticate')).toBe(`Bearer realm="airflow-token-broker", error="insufficient_scope", error_description="${body.error_description as string}"`);
  });

  it('a list of a kind the token reaches nothing of says "all", without an id', async () => {
    const body = refusal(await call('GET', '/connections'));
    expect(body).toMatchObject({ operation: 'get_connections', resource: 'connections', action: 'read', reason: 'no-matching-grant' });
    expect(body).not.toHaveProperty('resource_id');
    expect(body.error_description).toMatch(/all connections/);
  });

  it('a bulk request names the entity that was refused, not the first one', async () => {
    const body = refusal(
      await call('PATCH', '/variables', { actions: [{ action: 'create', entities: [{ key: 'etl_a', value: '1' }, { key: 'payroll_b', value: '2' }], action_on_existence: 'overwrite' }] }),
    );
    expect(body).toMatchObject({ operation: 'bulk_variables', resource: 'variables', resource_id: 'payroll_b', reason: 'no-matching-grant' });
  });

  it('a batch list of DAGs the token may not read names the DAG', async () => {
    const body = refusal(await call('POST', '/dags/~/dagRuns/list', { dag_ids: ['payroll_monthly'] }));
    expect(body).toMatchObject({ operation: 'get_list_dag_runs_batch', resource: 'dags', resource_id: 'payroll_monthly', action: 'read' });
  });

  it('a token narrowed by authorization_details is told that its narrowing refused it', async () => {
    const narrowed = await tokenRequest(
      standIn.broker,
      { grant_type: 'client_credentials', authorization_details: JSON.stringify([{ type: 'airflow', dags: ['etl_daily'], actions: ['trigger'] }]) },
      { authorization: basic('demo-etl', 'demo-etl-secret') },
    );
    const res = await fetch(`${standIn.broker.url}/airflow/prod/api/v2/dags/etl_hourly/dagRuns`, {
      method: 'POST',
      headers: { authorization: `Bearer ${narrowed.body.access_token as string}`, 'content-type': 'application/json' },
      body: JSON.stringify({ logical_date: null }),
    });
    const body = refusal({ status: res.status, text: await res.text() });
    expect(body).toMatchObject({ reason: 'outside-authorization-details', operation: 'trigger_dag_run', resource: 'dags', resource_id: 'etl_hourly', action: 'trigger' });
    expect(body.error_description).toBe("the token's authorization_details do not allow trigger on dags etl_hourly (operation trigger_dag_run)");
  });

  it('an id the proxy cannot determine says so, with the operation and the action', async () => {
    const body = refusal(await call('POST', '/dags/~/dagRuns/list', { dag_ids: 'etl_daily' }));
    expect(body).toMatchObject({ reason: 'resource-id-unresolved', operation: 'get_list_dag_runs_batch', resource: 'dags', action: 'read' });
    expect(body).not.toHaveProperty('resource_id');
    expect(body.error_description).toMatch(/dag_ids must be a list of strings/);
  });

  it('an operation the proxy never forwards names the operation only', async () => {
    const body = refusal(await call('GET', '/auth/login'));
    expect(body).toMatchObject({ reason: 'operation-not-proxied', operation: 'login' });
    expect(body).not.toHaveProperty('resource');
  });

  it('an unknown operation says the catalog does not know the call', async () => {
    const body = refusal(await call('GET', '/dags/etl_daily/secretThing'));
    expect(body).toMatchObject({ reason: 'unknown-operation' });
    expect(body).not.toHaveProperty('operation');
    expect(body.error_description).toMatch(/GET \/api\/v2\/dags\/etl_daily\/secretThing/);
  });
});
