import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { OpenApiDocument } from '../../src/proxy/openapi-document.js';

/**
 * Airflow's own OpenAPI documents, read from the installed Airflow in the cached venvs (installed on first use by
 * the ensure-venv scripts), never written by hand:
 * - Airflow 3.3.2: `api_fastapi/core_api/openapi/v2-rest-api-generated.yaml`, the document FastAPI generates for
 *   the public API (Airflow's CI keeps it equal to what `/openapi.json` serves; checked equal on 3.3.2);
 * - Airflow 2.11.2: `api_connexion/openapi/v1.yaml`, the file Connexion serves at `/api/v1/openapi.yaml`.
 */
export function airflowOpenApiDocument(api: 'v1' | 'v2'): OpenApiDocument {
  const script = api === 'v2' ? 'scripts/airflow/ensure-venv.sh' : 'scripts/airflow2/ensure-venv.sh';
  const venv = execFileSync(script, { encoding: 'utf8' }).trim().split('\n').pop()!;
  const python = readdirSync(join(venv, 'lib')).find((name) => name.startsWith('python'))!;
  const file = api === 'v2' ? 'api_fastapi/core_api/openapi/v2-rest-api-generated.yaml' : 'api_connexion/openapi/v1.yaml';
  return parse(readFileSync(join(venv, 'lib', python, 'site-packages', 'airflow', file), 'utf8')) as OpenApiDocument;
}
