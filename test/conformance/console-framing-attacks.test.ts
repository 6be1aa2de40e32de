import type { DevDirectory } from '../../scripts/dev-directory.js';
import { startBroker, startDirectory, type Broker } from '../helpers/broker-harness.js';
import { devLogin } from '../helpers/login-broker.js';

/**
 * The console's pages and assets as a hostile page or request sees them: who may frame the page (CSP
 * `frame-ancestors`, `X-Frame-Options` never contradicting it), where scripts may come from, which files can be
 * read, and that nothing is served where the console is not configured. The browser's side of framing is
 * test/acceptance/console-browser.test.ts.
 */

const PLANNING = 'https://planning.example.com';
let directory: DevDirectory;
let broker: Broker;

const upstream = (name: string, extra: Record<string, unknown> = {}) => ({
  audience: `https://airflow.${name}.example`,
  url: 'http://127.0.0.1:9',
  credentials: { mode: 'service-account' as const, username: 'proxy', password: '${ATB_TEST_AIRFLOW_PASSWORD}' },
  ...extra,
});

beforeAll(async () => {
  process.env.ATB_TEST_AIRFLOW_PASSWORD = 'proxy-pass';
  directory = await startDirectory();
  broker = await startBroker(directory, {
    configure: (c) => {
      c.login = devLogin();
      c.upstreams = {
        prod: upstream('prod'),
        planning: upstream('planning', { console: { frame_ancestors: [PLANNING, 'http://127.0.0.1:5173'] } }),
        hidden: upstream('hidden', { console: { enabled: false } }),
        tokens_only: { audience: 'https://airflow.tokens-only.example' },
      };
    },
  });
});

afterAll(async () => {
  await broker?.close();
  await directory?.close();
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(broker.url + path, { headers, redirect: 'manual' });

describe('console framing and content attacks', () => {
  it("console-framed-by-any-page: without frame_ancestors the page says frame-ancestors 'none' and X-Frame-Options DENY", async () => {
    for (const path of ['/console', '/console/prod']) {
      const res = await get(path);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-security-policy')).toBe("default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'");
      expect(res.headers.get('x-frame-options')).toBe('DENY');
    }
  });

  it('console-framed-by-unlisted-origin: frame-ancestors names exactly the configured origins, and X-Frame-Options does not contradict it', async () => {
    const res = await get('/console/planning');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toBe(`default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors ${PLANNING} http://127.0.0.1:5173`);
    // helmet's SAMEORIGIN (or any X-Frame-Options) would make browsers without CSP 2 refuse the allowed embedder.
    expect(res.headers.get('x-frame-options')).toBeNull();
  });

  it('console-inline-script: the page loads only scripts of its own origin and has no inline script or handler', async () => {
    const res = await get('/console/prod');
    const html = await res.text();
    expect(res.headers.get('content-security-policy')).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts).toHaveLength(1);
    expect(scripts[0]![1]).toContain('src="/console/_assets/main.js"');
    expect(scripts[0]![2]).toBe('');
    expect(html).not.toMatch(/\son[a-z]+=/i);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('console-asset-path-traversal: only the built files are served, never a path', async () => {
    for (const path of ['/console/_assets/..%2F..%2Fpackage.json', '/console/_assets/%2e%2e%2fconfig.yaml', '/console/_assets/../../package.json', '/console/_assets/main.ts', '/console/_assets/']) {
      const res = await get(path);
      expect([404]).toContain(res.status);
      expect(await res.text()).not.toContain('"devDependencies"');
    }
  });

  it('console-assets: built script and stylesheet with their types, revalidated (no-cache + ETag)', async () => {
    const js = await get('/console/_assets/main.js');
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('no-cache');
    expect(js.headers.get('x-content-type-options')).toBe('nosniff');
    const etag = js.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    expect((await get('/console/_assets/main.js', { 'if-none-match': etag })).status).toBe(304);
    const css = await get('/console/_assets/console.css');
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
  });

  it('console-of-unknown-disabled-or-unproxied-deployment: 404', async () => {
    for (const path of ['/console/nope', '/console/hidden', '/console/tokens_only', '/console/_assets']) {
      expect((await get(path)).status).toBe(404);
    }
  });
});

describe('console without login', () => {
  let plain: Broker;
  beforeAll(async () => {
    plain = await startBroker(directory, { configure: (c) => void (c.upstreams = { prod: upstream('prod') }) });
  });
  afterAll(async () => plain?.close());

  it('console-without-login: every /console path is 404 when login is not configured', async () => {
    for (const path of ['/console', '/console/prod', '/console/_assets/main.js']) {
      const res = await fetch(plain.url + path);
      expect(res.status).toBe(404);
    }
  });
});
