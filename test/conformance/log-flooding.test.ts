import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { DevDirectory } from '../../scripts/dev-directory.js';
import { createAuditLog, type AuditLog } from '../../src/observability/audit-log.js';
import { createLogger } from '../../src/observability/logger.js';
import { basic, PROD_AUDIENCE, startBroker, startDirectory, tokenRequest, type Broker } from '../helpers/broker-harness.js';

/**
 * A caller chooses the size of what it sends (client_id, scope, audience, path, id lists): none of it may make a
 * log or audit line large. Real pino logger at trace level and the real audit writer into a file.
 */

/** No line written for these requests may be longer than this (each input below is larger on its own). */
const LINE_BOUND = 8 * 1024;
const MAX_STRING = 256;

let directory: DevDirectory;
let broker: Broker;
let logged = '';
let auditFile: string;
let audit: AuditLog;
let token: string;

beforeAll(async () => {
  directory = await startDirectory();
  const sink = new Writable({ write: (chunk, _enc, cb) => ((logged += chunk.toString()), cb()) });
  auditFile = join(mkdtempSync(join(tmpdir(), 'atb-flood-')), 'audit.log');
  audit = createAuditLog({ file: auditFile, maxBytes: 100 * 1024 * 1024, maxFiles: 2 });
  process.env.ATB_TEST_FLOOD_PASSWORD = 'unused';
  broker = await startBroker(directory, {
    // The deployment's URL answers nothing: every call below is refused before the proxy would call Airflow.
    configure: (c) => {
      c.upstreams.prod = { audience: PROD_AUDIENCE, url: 'http://127.0.0.1:1', credentials: { mode: 'service-account', username: 'proxy', password: '${ATB_TEST_FLOOD_PASSWORD}' } };
    },
    overrides: { logger: createLogger('trace', sink), audit },
  });
  token = (await tokenRequest(broker, { grant_type: 'client_credentials' }, { authorization: basic('demo-etl', 'demo-etl-secret') })).body.access_token as string;
});
afterAll(async () => {
  await broker.close();
  await directory.close();
});
let auditOffset = 0;
beforeEach(() => {
  logged = '';
  audit.flush();
  auditOffset = existsSync(auditFile) ? statSync(auditFile).size : 0;
});

/** Every line logged and audited since the test began, parsed. */
async function linesWritten(): Promise<{ logs: string[]; audit: Array<Record<string, unknown>> }> {
  await new Promise((r) => setTimeout(r, 50)); // the audit file opens and flushes asynchronously
  audit.flush();
  const auditLines = readFileSync(auditFile).subarray(auditOffset).toString('utf8').trim().split('\n');
  for (const line of [...logged.trim().split('\n'), ...auditLines]) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(LINE_BOUND);
  return { logs: logged.trim().split('\n'), audit: auditLines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const truncated = (value: string) => value.slice(0, MAX_STRING) + `…[+${value.length - MAX_STRING}]`;

it('oversized-client-id-in-logs: a 15 KB client_id is cut in every log line and in the token audit record', async () => {
  const clientId = 'c'.repeat(15_000);
  const res = await tokenRequest(broker, { grant_type: 'client_credentials', client_id: clientId, client_secret: 'not-it' });
  expect([res.status, res.body.error]).toEqual([401, 'invalid_client']); // the directory refused it (issue 7 item 11)
  const { logs, audit: records } = await linesWritten();
  expect(logs.some((l) => l.includes('"msg":"request"'))).toBe(true); // the sink did receive the logs
  expect(logged).not.toContain('c'.repeat(MAX_STRING + 1));
  const refused = records.filter((r) => r.event === 'token_refused').at(-1)!;
  expect(refused.client_id).toBe(truncated(clientId));
});

it('oversized-scope-and-audience-in-audit: scope and audience of a refused token request are cut', async () => {
  const scope = 's'.repeat(7_000);
  const audience = 'https://' + 'a'.repeat(7_000);
  const res = await tokenRequest(broker, { grant_type: 'client_credentials', scope, audience }, { authorization: basic('demo-etl', 'demo-etl-secret') });
  expect(res.status).toBe(400);
  const { audit: records } = await linesWritten();
  const refused = records.filter((r) => r.event === 'token_refused').at(-1)!;
  expect(refused).toMatchObject({ client_id: 'demo-etl', scope: truncated(scope) });
  expect(refused.audience).toBe(truncated(audience));
  expect(logged).not.toContain('s'.repeat(MAX_STRING + 1));
});

it('oversized-path-in-decision-audit: a 12 KB DAG id is cut in the path and the resource ids', async () => {
  const dagId = 'd'.repeat(12_000);
  const res = await fetch(`${broker.url}/airflow/prod/api/v2/dags/${dagId}`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(403);
  const { audit: records } = await linesWritten();
  const decision = records.filter((r) => r.event === 'proxy_decision').at(-1)!;
  expect(decision).toMatchObject({ decision: 'deny', client_id: 'demo-etl', resource_ids: [truncated(dagId)] });
  expect(decision.path).toBe(truncated(`/dags/${dagId}`));
  expect(logged).not.toContain('d'.repeat(MAX_STRING + 1));
});

it('many-resource-ids-in-decision-audit: a bulk request of 5,000 ids keeps 32 ids and says how many were cut', async () => {
  const keys = Array.from({ length: 5_000 }, (_, i) => `payroll_${i}`);
  const res = await fetch(`${broker.url}/airflow/prod/api/v2/variables`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ actions: [{ action: 'delete', entities: keys }] }),
  });
  expect(res.status).toBe(403);
  const { audit: records } = await linesWritten();
  const decision = records.filter((r) => r.event === 'proxy_decision').at(-1)!;
  const ids = decision.resource_ids as string[];
  expect(ids).toHaveLength(33);
  expect(ids.slice(0, 32)).toEqual(keys.slice(0, 32));
  expect(ids[32]).toBe('…[+4968]');
});
