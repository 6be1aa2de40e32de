import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuditLog, type DecisionAuditRecord, type TokenAuditRecord } from '../../src/observability/audit-log.js';

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
  deployment: 'prod',
  jti: 'j-1',
  exp: 1,
  outcome: 'issued',
  reason: undefined,
  reason_description: undefined,
  policy_hash: 'abc',
};

it('writes one valid JSON object per line, with a timestamp', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'atb-audit-')), 'audit', 'audit.log');
  const audit = createAuditLog({ file, maxBytes: 1_000_000, maxFiles: 2 });
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

it('rotates a file destination past its size, keeping max_files', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'atb-audit-')), 'audit.log');
  const audit = createAuditLog({ file, maxBytes: 1_000, maxFiles: 2 });
  await new Promise((r) => setTimeout(r, 50));
  // One synchronous burst: rotation must keep up even when records arrive faster than the event loop turns.
  for (let i = 0; i < 20; i++) audit.token({ ...record, jti: `j-${i}` });
  audit.flush();
  await new Promise((r) => setTimeout(r, 50));
  audit.flush();
  const { existsSync } = await import('node:fs');
  expect(existsSync(`${file}.1`)).toBe(true);
  expect(existsSync(`${file}.2`)).toBe(true);
  expect(existsSync(`${file}.3`)).toBe(false);
  for (const f of [file, `${file}.1`, `${file}.2`]) {
    const text = readFileSync(f, 'utf8');
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(1_000);
    for (const line of text.trim().split('\n')) expect(JSON.parse(line)).toMatchObject({ log: 'audit' });
  }
  // The newest records are in the live file.
  expect(readFileSync(file, 'utf8')).toContain('"jti":"j-19"');
});

it('writes a proxy decision as the general path would, and counts multi-byte characters in bytes for rotation', async () => {
  const { boundValue } = await import('../../src/observability/bounded-values.js');
  const file = join(mkdtempSync(join(tmpdir(), 'atb-audit-')), 'audit.log');
  const audit = createAuditLog({ file, maxBytes: 3_000, maxFiles: 5 });
  await new Promise((r) => setTimeout(r, 50));
  const decision = (i: number): DecisionAuditRecord => ({
    event: 'proxy_decision', request_id: `r-${i}`, deployment: 'prod', client_id: 'démo-étl', sub: '😀'.repeat(300), roles: Object.freeze(['etl-operator']),
    method: 'GET', path: `/dags/${'é'.repeat(200)}`, operation: 'get_dag', resource: 'dag', action: 'read', resource_ids: [`dag_${i}`],
    decision: 'allow', reason: 'allowed-by-rule', rule: { role: 'etl-operator', effect: 'allow', index: 0 }, filtered: false, policy_hash: 'abc', upstream_status: 200,
  });
  for (let i = 0; i < 12; i++) audit.decision(decision(i));
  audit.flush();
  await new Promise((r) => setTimeout(r, 50));
  audit.flush();
  const lines: string[] = [];
  for (const f of [`${file}.5`, `${file}.4`, `${file}.3`, `${file}.2`, `${file}.1`, file]) {
    const text = readFileSync(f, 'utf8');
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(3_000);
    lines.push(...text.trim().split("\n"));
  }
  expect(lines).toHaveLength(12);
  lines.forEach((line, i) => {
    const { time, ...rest } = JSON.parse(line) as Record<string, unknown>;
    expect(Date.parse(time as string)).not.toBeNaN();
    expect(line).toBe(`{"time":"${time as string}",${JSON.stringify({ log: 'audit', ...(boundValue(decision(i)) as object) }).slice(1)}`);
    expect(rest).toMatchObject({ log: 'audit', request_id: `r-${i}` });
  });
});

/**
 * Regression (issue #14, item 2): `flush()` then `process.exit` lost the lines of a write sonic-boom was retrying
 * (stdout a non-blocking pipe whose reader lags: 296 of 10 000 lines gone when tried). `close()` waits for it.
 */
it('audit-lines-lost-at-exit: every line reaches a lagging stdout pipe when the process exits after close()', async () => {
  const { spawn } = await import('node:child_process');
  const { resolve } = await import('node:path');
  const script = [
    "process.stdout.write(''); // Node makes a pipe on stdout non-blocking",
    `const { createAuditLog } = await import(${JSON.stringify(resolve('dist/src/observability/audit-log.js'))});`,
    "const audit = createAuditLog('stdout');",
    'for (let round = 0; round < 20; round++) {',
    "  for (let i = 0; i < 500; i++) audit.admin({ event: 'admin_revocation', request_id: `r-${round}-${i}`, admin_sub: 'x'.repeat(200), admin_client_id: 'c', target: { jti: 'j' } });",
    '  await new Promise((r) => setImmediate(r));',
    '}',
    'await audit.close();',
    'process.exit(0);',
  ].join('\n');
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout.pause();
  let lines = 0;
  setTimeout(() => child.stdout.on('data', (c: Buffer) => (lines += c.toString().split('\n').length - 1)).resume(), 1_000);
  await new Promise((r) => child.stdout.on('end', r));
  expect(lines).toBe(10_000);
});
