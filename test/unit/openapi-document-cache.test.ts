import type { Deployment } from '../../src/proxy/deployments.js';
import type { OpenApiDocument } from '../../src/proxy/openapi-document.js';
import { OpenApiDocumentCache } from '../../src/proxy/openapi-document-cache.js';

/** How long Airflow's document is kept, and that readers share one fetch. */

const prod = { name: 'prod' } as Deployment;
const staging = { name: 'staging' } as Deployment;
const document = (n: number): OpenApiDocument => ({ openapi: '3.1.0', paths: {}, info: { version: String(n) } });

function cacheWith(load: (d: Deployment) => Promise<OpenApiDocument>) {
  let now = 0;
  const loads: string[] = [];
  const cache = new OpenApiDocumentCache(
    (d) => {
      loads.push(d.name);
      return load(d);
    },
    { lifetimeMs: 600_000, now: () => now },
  );
  return { cache, loads, advance: (ms: number) => (now += ms) };
}

describe('OpenApiDocumentCache', () => {
  it('serves the document Airflow gave for its lifetime, then asks again', async () => {
    let n = 0;
    const { cache, loads, advance } = cacheWith(async () => document(++n));
    expect((await cache.get(prod)).info).toEqual({ version: '1' });
    advance(599_999);
    expect((await cache.get(prod)).info).toEqual({ version: '1' });
    advance(1);
    expect((await cache.get(prod)).info).toEqual({ version: '2' });
    expect(loads).toEqual(['prod', 'prod']);
  });

  it('concurrent readers share one fetch; each deployment has its own', async () => {
    const { cache, loads } = cacheWith(async (d) => document(d.name.length));
    const [a, b, c] = await Promise.all([cache.get(prod), cache.get(prod), cache.get(staging)]);
    expect(a).toBe(b);
    expect(c).not.toBe(a);
    expect(loads).toEqual(['prod', 'staging']);
  });

  it('a failed fetch is not kept: the next reader asks Airflow again', async () => {
    let fail = true;
    const { cache, loads } = cacheWith(async () => {
      if (fail) throw new Error('Airflow down');
      return document(1);
    });
    await expect(cache.get(prod)).rejects.toThrow('Airflow down');
    fail = false;
    expect((await cache.get(prod)).openapi).toBe('3.1.0');
    expect(loads).toEqual(['prod', 'prod']);
  });
});
