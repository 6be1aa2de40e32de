import type { AirflowClient } from '../../src/airflow/airflow-client.js';
import { FabBasicAuthCredentials } from '../../src/airflow/credentials/fab-basic-auth.js';
import { OAuthError } from '../../src/errors/oauth-error.js';
import type { Caller, UpstreamCredentials } from '../../src/airflow/credentials/upstream-credentials.js';

const caller = {} as Caller; // one FAB user for every caller: who calls does not change the header

/** Airflow 2's answer to the proxy's probe (`GET /api/v1/dags?limit=1`), counting probes. */
function probedAirflow(status: number) {
  const airflow = { status, probes: [] as string[] };
  const client = {
    async json(_method: string, path: string) {
      airflow.probes.push(path);
      return { status: airflow.status, body: {} };
    },
  } as unknown as AirflowClient;
  return { airflow, client };
}

function credentials(clock: { now: number }, password = 'p', client = probedAirflow(200).client): UpstreamCredentials {
  return new FabBasicAuthCredentials(client, { username: 'proxy', password, apiRoot: '/api/v1', refusalBackoffMs: 5_000, now: () => clock.now });
}

const decoded = (header: string) => Buffer.from(header.replace(/^Basic /, ''), 'base64').toString('utf8');

describe('service-account on Airflow 2 (HTTP Basic to FAB)', () => {
  it('sends the FAB user and password as HTTP Basic (RFC 7617, UTF-8), the same for every caller', async () => {
    const creds = credentials({ now: 0 }, 'pa:ss wörd');
    const header = await creds.authorization(caller);
    expect(header).toMatch(/^Basic [A-Za-z0-9+/]+=*$/);
    expect(decoded(header)).toBe('proxy:pa:ss wörd');
    expect(await creds.authorization({ ...caller, subject: 'someone-else' })).toBe(header);
    expect(creds.mode).toBe('service-account');
  });

  it('basic-auth-refused: no retry (the same password cannot do better), then 502 with Retry-After without asking Airflow until the back-off passed', async () => {
    const clock = { now: 0 };
    const creds = credentials(clock);
    const header = await creds.authorization(caller);
    expect(creds.invalidate(header)).toBe(false);
    clock.now = 1_000;
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => creds.authorization(caller)));
    for (const r of results) {
      expect(r.status).toBe('rejected');
      const err = (r as PromiseRejectedResult).reason as OAuthError;
      expect(err).toBeInstanceOf(OAuthError);
      expect(err.code).toBe('upstream_error');
      expect(err.status).toBe(502);
      expect(err.retryAfter).toBe(4);
      expect(err.description).toMatch(/Airflow refused the proxy's credentials/);
      // The proxy's FAB user is its own business: the caller is not told its name.
      expect(err.description).not.toContain('proxy:');
      expect(err.description).not.toMatch(/"proxy"/);
    }
    clock.now = 5_001;
    await expect(creds.authorization(caller)).resolves.toBe(header);
  });

  it('a refusal after a back-off starts the next one from that refusal', async () => {
    const clock = { now: 0 };
    const creds = credentials(clock);
    creds.invalidate();
    clock.now = 5_001; // back-off over: calls go out again, and one is refused again
    const header = await creds.authorization(caller);
    creds.invalidate(header);
    clock.now = 9_001;
    await expect(creds.authorization(caller)).rejects.toMatchObject({ code: 'upstream_error', retryAfter: 1 });
    clock.now = 10_002;
    await expect(creds.authorization(caller)).resolves.toBe(header);
  });

  it('airflow2-anonymous-fallback: a 403 the probe confirms is the proxy\'s own (Airflow 2 reads a wrong password as AUTH_ROLE_PUBLIC), then back-off', async () => {
    const { airflow, client } = probedAirflow(403);
    const clock = { now: 0 };
    const creds = credentials(clock, 'p', client);
    const header = await creds.authorization(caller);
    expect(await creds.forbidden!(header)).toBe(true);
    expect(airflow.probes).toEqual(['/api/v1/dags?limit=1']);
    await expect(creds.authorization(caller)).rejects.toMatchObject({ code: 'upstream_error', retryAfter: 5 });
  });

  it('a 403 for a permission the FAB user lacks is relayed: the probe passes, and is asked again only after the back-off', async () => {
    const { airflow, client } = probedAirflow(200);
    const clock = { now: 0 };
    const creds = credentials(clock, 'p', client);
    const header = await creds.authorization(caller);
    for (let i = 0; i < 5; i++) expect(await creds.forbidden!(header)).toBe(false);
    expect(airflow.probes).toHaveLength(1);
    clock.now = 5_001;
    airflow.status = 403; // the password was changed at Airflow meanwhile
    expect(await creds.forbidden!(header)).toBe(true);
    expect(airflow.probes).toHaveLength(2);
  });

  it('a probe that fails (5xx, no answer) blames nobody: the 403 is relayed', async () => {
    const { client } = probedAirflow(503);
    const creds = credentials({ now: 0 }, 'p', client);
    expect(await creds.forbidden!(await creds.authorization(caller))).toBe(false);
    const failing = { json: () => Promise.reject(new Error('ECONNREFUSED')) } as unknown as AirflowClient;
    const creds2 = credentials({ now: 0 }, 'p', failing);
    expect(await creds2.forbidden!(await creds2.authorization(caller))).toBe(false);
  });
});
