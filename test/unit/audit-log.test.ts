import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuditLog, type TokenAuditRecord } from '../../src/observability/audit-log.js';

const record: TokenAuditRecord = {
  event: 'token_issued',
  request_id: 'r-1',
  grant_type: 'client_credentials',
  client_id: 'demo-etl',
  sub: 'demo-etl',
  directory: 'dev',
  roles: ['etl-operator'],
  scope: 'etl-operator',
  audience: 'https://airflow.example',
  jti: 'j-1',
  exp: 1,
  outcome: 'issued',
  reason: undefined,
  reason_description: undefined,
  policy_hash: 'abc',
};

it('writes one valid JSON object per line, with a timestamp', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'atb-audit-')), 'audit', 'audit.log');
  const audit = createAuditLog({ file });
  audit.token(record);
  audit.token({ ...record, event: 'token_refused', outcome: 'refused', reason: 'invalid_client', jti: undefined });
  await new Promise((r) => setTimeout(r, 50)); // the destination opens the file asynchronously
  audit.flush();
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  expect(lines).toHaveLength(2);
  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(parsed[0]).toMatchObject({ log: 'audit', event: 'token_issued', jti: 'j-1', roles: ['etl-operator'] });
  expect(Date.parse(parsed[0]!.time as string)).not.toBeNaN();
  expect(parsed[1]).toMatchObject({ event: 'token_refused', reason: 'invalid_client' });
});
