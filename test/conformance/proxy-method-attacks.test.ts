import { request as httpRequest } from 'node:http';
import { useStandIn } from '../helpers/recording-upstream.js';

/**
 * Methods the catalog has no operation for, on paths it knows (issue #11, item 2). Airflow 3 answers them 405 with
 * `Allow` before it authenticates (Starlette's route match); the proxy answers the same, never a scope refusal that
 * sends a developer to ask for more scope, and never forwards the call.
 */
const standIn = useStandIn();

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/** A raw request: fetch refuses TRACE and gives HEAD no body to inspect. */
function send(method: string, path: string, auth = true, root = '/airflow/prod/api/v2'): Promise<Answer> {
  const headers: Record<string, string> = auth ? { authorization: `Bearer ${standIn.token}` } : {};
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${standIn.broker.url}${root}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode!, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const allowed = (answer: Answer) => String(answer.headers.allow ?? '').split(/,\s*/).sort();

function expectMethodNotAllowed(answer: Answer, allow: string[]): void {
  expect(answer.status).toBe(405);
  expect(allowed(answer)).toEqual([...allow].sort());
  expect(standIn.upstream.seen).toHaveLength(0);
}

describe('methods the catalog has no operation for', () => {
  it('head-on-a-get-path-is-not-a-scope-refusal: 405 with Allow, no body (HEAD)', async () => {
    const answer = await send('HEAD', '/dags');
    expectMethodNotAllowed(answer, ['GET', 'PATCH']);
  });

  it('head-on-a-dag: 405 listing the methods of /dags/{dag_id}', async () => {
    expectMethodNotAllowed(await send('HEAD', '/dags/etl_daily'), ['DELETE', 'GET', 'PATCH']);
  });

  it('unknown-method-on-a-known-path: PUT /dags is 405 invalid_request, not 403 insufficient_scope', async () => {
    const answer = await send('PUT', '/dags');
    expectMethodNotAllowed(answer, ['GET', 'PATCH']);
    expect(answer.body.error).toBe('invalid_request');
    expect(answer.body).not.toHaveProperty('reason');
  });

  it('trace-on-a-known-path: 405', async () => {
    expectMethodNotAllowed(await send('TRACE', '/variables/etl_x'), ['DELETE', 'GET', 'PATCH']);
  });

  it('options-without-cors: 405 like any other method the catalog has not', async () => {
    expectMethodNotAllowed(await send('OPTIONS', '/dags'), ['GET', 'PATCH']);
  });

  it('method-not-allowed-before-authentication: no token, still 405 (it says nothing secret)', async () => {
    const answer = await send('HEAD', '/dags', false);
    expectMethodNotAllowed(answer, ['GET', 'PATCH']);
    expect(answer.headers['www-authenticate']).toBeUndefined();
  });

  it('the 405 is audited as a refusal, before any decision', async () => {
    await send('PUT', '/dags');
    expect(standIn.broker.audit.decisions.at(-1)).toMatchObject({ decision: 'deny', reason: 'invalid_request', method: 'PUT', path: '/dags' });
  });

  it('control: a path the catalog does not know stays a refusal of an unknown operation', async () => {
    const answer = await send('HEAD', '/dags/etl_daily/secretThing');
    expect(answer.status).toBe(403);
    expect(standIn.upstream.seen).toHaveLength(0);
  });

  it('control: the method the catalog has is forwarded', async () => {
    expect((await send('GET', '/dags/etl_daily')).status).toBe(200);
    expect(standIn.upstream.seen).toHaveLength(1);
  });
});
