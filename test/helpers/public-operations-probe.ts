import type { Operation } from '../../src/airflow/catalog/operation.js';

/**
 * Calls every operation of a catalog on a live Airflow without credentials (path parameters filled in with
 * `v-<name>`) and lists where the answer and the catalog's `public` flag disagree: an operation Airflow serves bare
 * (2xx) must be `public`, any other must not be. Airflow's own login and logout (`access: never`) answer without
 * credentials too, and are never forwarded: left out.
 */
export async function publicFlagDisagreements(baseUrl: string, apiRoot: string, operations: readonly Operation[]): Promise<string[]> {
  const disagreements: string[] = [];
  for (const op of operations.filter((o) => o.access !== 'never')) {
    const path = op.template.replace(/\{(\w+)\}/g, (_, name: string) => `v-${name}`);
    const res = await fetch(`${baseUrl}${apiRoot}${path}`, { method: op.method, redirect: 'manual' });
    await res.text();
    if (res.status < 300 !== (op.public === true)) {
      disagreements.push(`${op.method} ${op.template} (${op.name}): Airflow answers ${res.status} without credentials, the catalog says ${op.public ? 'public' : 'not public'}`);
    }
  }
  return disagreements;
}
