import type { AirflowClient } from '../../src/airflow/airflow-client.js';
import { ServiceAccountCredentials } from '../../src/airflow/credentials/service-account.js';
import { OAuthError } from '../../src/errors/oauth-error.js';

/** A login endpoint that answers `status` (and a token on 201), counting calls; each login takes 5 ms. */
function fakeAirflow() {
  const airflow = { status: 201, logins: 0 };
  const client = {
    async json() {
      airflow.logins++;
      await new Promise((r) => setTimeout(r, 5));
      if (airflow.status !== 201) return { status: airflow.status, body: { detail: 'no' } };
      const payload = Buffer.from(JSON.stringify({ exp: 4102444800 })).toString('base64url');
      return { status: 201, body: { access_token: `eyJhbGciOiJIUzI1NiJ9.${payload}.sig-${airflow.logins}` } };
    },
  } as unknown as AirflowClient;
  return { airflow, client };
}


function credentials(client: AirflowClient, clock: { now: number }) {
  return new ServiceAccountCredentials(client, { username: 'u', password: 'p', refreshBeforeMs: 60_000, loginBackoffMs: 5_000, now: () => clock.now });
}

describe('service-account logins', () => {
  it('concurrent calls share one login', async () => {
    const { airflow, client } = fakeAirflow();
    const creds = credentials(client, { now: 0 });
    const headers = await Promise.all(Array.from({ length: 10 }, () => creds.authorization()));
    expect(new Set(headers).size).toBe(1);
    expect(airflow.logins).toBe(1);
  });

  it.each([401, 500])('login-refused-%i: one login per back-off interval, each call 502 with Retry-After', async (status) => {
    const { airflow, client } = fakeAirflow();
    airflow.status = status;
    const clock = { now: 0 };
    const creds = credentials(client, clock);
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => creds.authorization()));
    clock.now = 4_000;
    results.push(...(await Promise.allSettled([creds.authorization(), creds.authorization()])));
    for (const r of results) {
      expect(r.status).toBe('rejected');
      const err = (r as PromiseRejectedResult).reason as OAuthError;
      expect(err).toBeInstanceOf(OAuthError);
      expect(err.code).toBe('upstream_error');
      expect(err.retryAfter).toBeGreaterThan(0);
    }
    expect(((results.at(-1) as PromiseRejectedResult).reason as OAuthError).retryAfter).toBe(1);
    expect(airflow.logins).toBe(1);

    clock.now = 5_001;
    airflow.status = 201;
    await expect(creds.authorization()).resolves.toMatch(/^Bearer /);
    expect(airflow.logins).toBe(2);
  });

  it('a token Airflow refused is replaced once, however many calls saw it refused', async () => {
    const { airflow, client } = fakeAirflow();
    const clock = { now: 0 };
    const creds = credentials(client, clock);
    const refused = await creds.authorization();
    clock.now = 60_000; // Airflow stops accepting a token it accepted for a minute
    for (let i = 0; i < 10; i++) expect(creds.invalidate(refused)).toBe(true);
    const fresh = await Promise.all(Array.from({ length: 10 }, () => creds.authorization()));
    expect(new Set(fresh).size).toBe(1);
    expect(fresh[0]).not.toBe(refused);
    // A call still holding the refused token does not throw the fresh one away.
    creds.invalidate(refused);
    expect(await creds.authorization()).toBe(fresh[0]);
    expect(airflow.logins).toBe(2);
  });

  it('a token refused within the back-off of its login counts as a failed login: no retry, no new login', async () => {
    const { airflow, client } = fakeAirflow();
    const clock = { now: 0 };
    const creds = credentials(client, clock);
    const refused = await creds.authorization();
    clock.now = 1_000;
    expect(creds.invalidate(refused)).toBe(false);
    await expect(creds.authorization()).rejects.toMatchObject({ code: 'upstream_error', retryAfter: 5 });
    expect(airflow.logins).toBe(1);
    clock.now = 6_001;
    await expect(creds.authorization()).resolves.toMatch(/^Bearer /);
    expect(airflow.logins).toBe(2);
  });
});
