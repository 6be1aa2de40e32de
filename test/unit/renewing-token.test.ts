import type { TokenEndpointResponse } from 'openid-client';
import { RenewingToken } from '../../src/cli/renewing-token.js';

/** Regression for `run --wait` / `wait` outliving their token: it is renewed before `exp`, never used after it. */
describe('renewing-token', () => {
  const issuing = (expiresIn: number) => {
    const fetchToken = Object.assign(async () => ({ access_token: `t${++fetchToken.calls}`, token_type: 'bearer', expires_in: expiresIn }) as TokenEndpointResponse, { calls: 0 });
    return fetchToken;
  };

  it('keeps a 10-minute token until 30 s before it expires, then fetches the next', async () => {
    let now = 0;
    const fetchToken = issuing(600);
    const token = new RenewingToken(fetchToken, () => now);
    expect(await token.current()).toBe('t1');
    now = 569_000;
    expect(await token.current()).toBe('t1');
    now = 570_000;
    expect(await token.current()).toBe('t2');
    expect(fetchToken.calls).toBe(2);
  });

  it('renews a short-lived token at four fifths of its life, not on every call', async () => {
    let now = 0;
    const fetchToken = issuing(10);
    const token = new RenewingToken(fetchToken, () => now);
    await token.current();
    now = 7_999;
    expect(await token.current()).toBe('t1');
    now = 8_000;
    expect(await token.current()).toBe('t2');
  });

  it('renew() fetches a fresh token at once (after a 401)', async () => {
    const token = new RenewingToken(issuing(600), () => 0);
    await token.current();
    expect(await token.renew()).toBe('t2');
    expect(await token.current()).toBe('t2');
  });
});
