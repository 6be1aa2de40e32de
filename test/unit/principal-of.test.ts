import { evaluateCheck } from '../../src/policy/evaluator.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import type { VerifiedToken } from '../../src/proxy/authenticate.js';
import { principalOf } from '../../src/proxy/principal-of.js';
import type { AccessTokenClaims } from '../../src/tokens/access-token.js';

/** The compiled principal a token's cache entry holds: each case is a way a held principal could be the wrong one. */
const policyAllowing = (dags: string) =>
  parsePolicy('p.yaml', `version: 2\nroles:\n  r:\n    allow:\n      - dags: [${dags}]\n        actions: [read]\n  s:\n    allow:\n      - dags: ["*"]\n        actions: [read]\n`);
const token = (scope = 'r', details?: AccessTokenClaims['authorization_details']): VerifiedToken => {
  const claims = { iss: 'i', sub: 's', aud: 'a', exp: 2, iat: 1, nbf: 1, jti: `j-${Math.random()}`, client_id: 'c', scope, ...(details && { authorization_details: details }) };
  return { claims, roles: Object.freeze(scope.split(' ')) };
};
const reads = (t: VerifiedToken, policy: ReturnType<typeof policyAllowing>, deployment: string, dag: string) =>
  evaluateCheck(principalOf(t, policy, deployment), { resource: 'dags', action: 'read', id: dag }).allowed;

describe('principalOf', () => {
  it('token-principal-held-per-token: compiled once, the same principal on the next request', () => {
    const policy = policyAllowing('etl_*');
    const t = token();
    expect(principalOf(t, policy, 'prod')).toBe(principalOf(t, policy, 'prod'));
  });

  it('token-principal-policy-reloaded: a held principal is not reused under a reloaded policy', () => {
    const t = token();
    expect(reads(t, policyAllowing('etl_*'), 'prod', 'etl_daily')).toBe(true);
    expect(reads(t, policyAllowing('payroll_*'), 'prod', 'etl_daily')).toBe(false);
  });

  it('token-principal-other-deployment: a principal held for one deployment is not used for another', () => {
    const policy = policyAllowing('etl_*');
    const t = token();
    const prod = principalOf(t, policy, 'prod');
    const staging = principalOf(t, policy, 'staging');
    expect(staging).not.toBe(prod);
    expect(staging.deployment).toBe('staging');
    expect(principalOf(t, policy, 'prod').deployment).toBe('prod');
  });

  it('token-principal-narrowed: a narrowed token has its own, and never the one of its scope', () => {
    const policy = policyAllowing('etl_*');
    const whole = token();
    const daily = token('r', [{ type: 'airflow', dags: ['etl_daily'], actions: ['read'] }]);
    const weekly = token('r', [{ type: 'airflow', dags: ['etl_weekly'], actions: ['read'] }]);
    expect(reads(whole, policy, 'prod', 'etl_weekly')).toBe(true);
    expect(reads(daily, policy, 'prod', 'etl_daily')).toBe(true);
    expect(reads(daily, policy, 'prod', 'etl_weekly')).toBe(false);
    expect(reads(weekly, policy, 'prod', 'etl_daily')).toBe(false);
    expect(reads(whole, policy, 'prod', 'etl_daily')).toBe(true);
    expect(principalOf(daily, policy, 'prod')).not.toBe(principalOf(whole, policy, 'prod'));
  });

  it('token-principal-shared-per-scope: tokens of one scope without narrowing share it; another scope does not', () => {
    const policy = policyAllowing('etl_*');
    expect(principalOf(token(), policy, 'prod')).toBe(principalOf(token(), policy, 'prod'));
    expect(reads(token('s'), policy, 'prod', 'payroll')).toBe(true);
    expect(reads(token(), policy, 'prod', 'payroll')).toBe(false);
  });
});
