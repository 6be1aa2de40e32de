import { parse as parseYaml } from 'yaml';
import { readUpstream, refusedCredentials } from '../airflow/airflow-client.js';
import { OAuthError } from '../errors/oauth-error.js';
import type { Deployment } from './deployments.js';
import type { OpenApiDocument } from './openapi-document.js';

/** Airflow 3.3.2's document is about 370 kB; a larger answer than this is not a document worth holding. */
const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;

/**
 * Airflow's own OpenAPI document of one deployment, asked without credentials (both Airflow lines serve it so), and
 * with the proxy's credentials for the caller when Airflow refuses that and a caller is known. Airflow failing to
 * give it is a 502 (504 when it does not answer in time) that says so.
 */
export async function fetchAirflowOpenApi(deployment: Deployment, credentials?: () => Promise<string>): Promise<OpenApiDocument> {
  const source = deployment.api.openApi;
  const ask = (authorization?: string) =>
    deployment.client.request({ method: 'GET', path: source.path, headers: { accept: source.format === 'json' ? 'application/json' : 'application/yaml', ...(authorization && { authorization }) } });
  let res = await ask();
  if ((res.statusCode === 401 || res.statusCode === 403) && credentials) {
    await res.body.dump();
    res = await ask(await credentials());
    if (res.statusCode === 401 || res.statusCode === 403) {
      await res.body.dump();
      throw refusedCredentials();
    }
  }
  if (res.statusCode !== 200) {
    await res.body.dump();
    const hint = res.statusCode === 401 || res.statusCode === 403 ? ' without credentials: ask with an access token for the deployment' : '';
    throw new OAuthError('upstream_error', `Airflow did not give its OpenAPI document (HTTP ${res.statusCode})${hint}`);
  }
  return parseDocument(await readBounded(res.body), source.format);
}

async function readBounded(body: AsyncIterable<Buffer> & { destroy(): void }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  const iterator = body[Symbol.asyncIterator]();
  for (let next = await readUpstream(iterator.next()); !next.done; next = await readUpstream(iterator.next())) {
    size += next.value.length;
    if (size > MAX_DOCUMENT_BYTES) {
      body.destroy();
      throw new OAuthError('upstream_error', 'Airflow\'s OpenAPI document is larger than the proxy reads');
    }
    chunks.push(next.value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseDocument(text: string, format: 'json' | 'yaml'): OpenApiDocument {
  let parsed: unknown;
  try {
    parsed = format === 'json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new OAuthError('upstream_error', 'Airflow\'s OpenAPI document could not be read', { cause: err });
  }
  const doc = parsed as Partial<OpenApiDocument> | null;
  const isObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(doc) || typeof doc!.openapi !== 'string' || !doc!.openapi.startsWith('3.') || !isObject(doc!.paths) || !Object.values(doc!.paths!).every(isObject)) {
    throw new OAuthError('upstream_error', 'Airflow answered with something else than an OpenAPI 3 document');
  }
  return doc as OpenApiDocument;
}
