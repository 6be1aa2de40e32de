import type { Broker } from '../helpers/broker-harness.js';
import { startBrokerBeforeStandIn, type RecordingUpstream, type StandInSetup } from '../helpers/recording-upstream.js';

/**
 * `service-account` on an Airflow 2 upstream (`api: v1`), against the stand-in: what Airflow receives, and how many
 * requests a refused password costs it (a real Airflow 2 cannot count them; test/acceptance/proxy-airflow2*.test.ts
 * shows the rest against a real one).
 */

let setup: StandInSetup;
let upstream: RecordingUpstream;
let broker: Broker;
let token: string;

beforeAll(async () => {
  setup = await startBrokerBeforeStandIn({ login_backoff: '1s' }, undefined, 'v1');
  ({ upstream, broker, token } = setup);
});
afterAll(() => setup.close());
beforeEach(() => upstream.reset());

const backoffPassed = () => new Promise((r) => setTimeout(r, 1_100));
const get = () => fetch(`${broker.url}/airflow/prod/api/v1/dags/etl_daily`, { headers: { authorization: `Bearer ${token}` } });

describe('service-account on Airflow 2', () => {
  it('Airflow receives HTTP Basic for the proxy\'s FAB user, never the caller\'s token, and no login', async () => {
    const res = await get();
    expect(res.status).toBe(200);
    const got = upstream.seen.at(-1)!;
    expect(got.url).toBe('/api/v1/dags/etl_daily');
    expect(got.headers.authorization).toBe(`Basic ${Buffer.from('proxy:stand-in-pass').toString('base64')}`);
    expect(got.headers.authorization).not.toContain(token);
    expect(upstream.logins).toBe(0);
  });

  it('basic-auth-refused: 502 upstream_error about the proxy, no retry, and calls within the back-off never reach Airflow', async () => {
    await backoffPassed();
    upstream.mode = 'reject-token';
    const first = await get();
    expect(first.status).toBe(502);
    expect(first.headers.get('www-authenticate')).toBeNull();
    expect((await first.json()) as Record<string, unknown>).toMatchObject({ error: 'upstream_error', error_description: expect.stringContaining('the proxy\'s credentials') });
    expect(upstream.seen).toHaveLength(1);

    const later = await Promise.all(Array.from({ length: 10 }, () => get()));
    for (const res of later) {
      expect(res.status).toBe(502);
      expect(res.headers.get('retry-after')).toBe('1');
      expect((await res.json()) as Record<string, unknown>).toMatchObject({ error: 'upstream_error' });
    }
    expect(upstream.seen).toHaveLength(1);

    // The password was fixed: once the back-off has passed, calls go through again.
    upstream.mode = 'ok';
    await backoffPassed();
    expect((await get()).status).toBe(200);
    expect(upstream.seen).toHaveLength(2);
  });

  it('basic-auth-refused-during-list-scan: a filtered list answers 502 and backs off too', async () => {
    await backoffPassed();
    upstream.mode = 'reject-token';
    const list = await fetch(`${broker.url}/airflow/prod/api/v1/dags`, { headers: { authorization: `Bearer ${token}` } });
    expect(list.status).toBe(502);
    expect(upstream.seen).toHaveLength(1);
    expect((await get()).status).toBe(502);
    expect(upstream.seen).toHaveLength(1);
  });
});
