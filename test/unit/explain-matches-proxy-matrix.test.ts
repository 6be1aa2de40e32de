import { DEMO_ACCOUNTS } from '../../scripts/dev-directory.js';
import { explainCall } from '../../src/admin/explain-call.js';
import { readPolicyFile } from '../../src/policy/policy-file.js';
import { proxyMatrix } from '../fixtures/proxy-matrix.js';

/**
 * `policy explain` gives, for every case of the matrix proven against the proxy on a real Airflow
 * (test/acceptance/proxy-airflow.test.ts), the proxy's verdict and reason: one catalog, one decision path.
 */
const policy = readPolicyFile('examples/policy.yaml');

describe('explain agrees with the proxy matrix', () => {
  it.each(proxyMatrix.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const account = DEMO_ACCOUNTS.find((a) => a.clientId === c.client)!;
    // The broker gives a token every bound role when no scope is requested, as in the acceptance test.
    const roles = policy.rolesFor({ directory: 'dev', subject: c.client, clientId: c.client, groups: account.groups, claims: {} });
    const explanation = await explainCall(policy, { roles, details: undefined }, { method: c.method, path: `/airflow/prod/api/v2${c.path}`, body: c.body });
    expect({ verdict: explanation.verdict, reason: explanation.decision.reason }).toEqual({ verdict: c.expect, reason: c.reason });
  });
});
