import { readFileSync } from 'node:fs';
import type { Operation } from '../../src/airflow/catalog/operation.js';
import { renderCatalogDocs, renderCatalogTables } from '../../src/airflow/catalog/catalog-docs.js';
import { airflowV1Operations } from '../../src/airflow/catalog/v1-operations.js';
import { airflowV2Operations } from '../../src/airflow/catalog/v2-operations.js';

test('docs/airflow-catalog.md is generated from the current catalog', () => {
  const checkedIn = readFileSync('docs/airflow-catalog.md', 'utf8');
  if (checkedIn !== renderCatalogDocs()) {
    throw new Error('docs/airflow-catalog.md is stale: run `npm run build && node dist/scripts/gen-catalog-docs.js` and commit the result');
  }
});

test.each([
  ['v2', airflowV2Operations],
  ['v1', airflowV1Operations],
] as Array<[string, readonly Operation[]]>)('every %s operation appears once, in a table row', (_, operations) => {
  const rows = renderCatalogTables(operations).split('\n').filter((line) => line.startsWith('| `'));
  expect(rows).toHaveLength(operations.length);
  for (const op of operations) expect(rows.filter((r) => r.startsWith(`| \`${op.name}\` |`))).toHaveLength(1);
});

test('the document holds both tables, v2 first', () => {
  const doc = renderCatalogDocs();
  const v2 = doc.indexOf(renderCatalogTables(airflowV2Operations));
  const v1 = doc.indexOf(renderCatalogTables(airflowV1Operations));
  expect(v2).toBeGreaterThan(0);
  expect(v1).toBeGreaterThan(v2);
});
