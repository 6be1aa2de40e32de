import { readinessReport, type BrokerFunction, type ReadinessCheck, type ReadinessRule } from '../../src/http/readiness.js';

/** Readiness per function (issue #8 item 7): checks gate functions, `server.readiness` turns them into one verdict. */

const check = (name: string, ok: boolean, gates: BrokerFunction[]): ReadinessCheck => ({ name, gates, run: () => ({ ok, detail: ok ? 'ok' : 'down' }) });

/** A directory outage: issuance is down, the proxy is up. */
const directoryDown = [check('directories', false, ['issuance']), check('verification_keys', true, ['proxy']), check('upstreams', false, [])];

describe('readinessReport', () => {
  test.each<[ReadinessRule, boolean]>([
    ['any', true],
    ['all', false],
    ['proxy', true],
    ['issuance', false],
  ])('readiness-tied-to-the-directory: with a directory down, server.readiness %s is ready: %s', (rule, ready) => {
    const report = readinessReport(directoryDown, rule);
    expect(report.ready).toBe(ready);
    expect(report.body).toEqual({
      status: ready ? 'ready' : 'not_ready',
      functions: { issuance: 'not_ready', proxy: 'ready' },
      directories: 'down',
      verification_keys: 'ok',
      upstreams: 'down',
    });
  });

  test('a check gating both functions takes both down; a report-only check none', () => {
    const report = readinessReport([check('keys', false, ['issuance', 'proxy']), check('policy', false, [])], 'any');
    expect(report.ready).toBe(false);
    expect(report.body.functions).toEqual({ issuance: 'not_ready', proxy: 'not_ready' });
    expect(readinessReport([check('policy', false, [])], 'all').ready).toBe(true);
  });
});
