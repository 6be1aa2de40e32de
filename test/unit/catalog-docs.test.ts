import { readFileSync } from 'node:fs';
import { renderCatalogDocs } from '../../src/airflow/catalog/catalog-docs.js';
import { airflowV2Operations } from '../../src/airflow/catalog/v2-operations.js';

test('docs/airflow-catalog.md is generated from the current catalog', () => {
  const checkedIn = readFileSync('docs/airflow-catalog.md', 'utf8');
  if (checkedIn !== renderCatalogDocs()) {
    throw new Error('docs/airflow-catalog.md is stale: run `npm run build && node dist/scripts/gen-catalog-docs.js` and commit the result');
  }
});

test('every operation appears once, in a table row', () => {
  const rows = renderCatalogDocs().split('\n').filter((line) => line.startsWith('| `'));
  expect(rows).toHaveLength(airflowV2Operations.length);
  for (const op of airflowV2Operations) expect(rows.filter((r) => r.startsWith(`| \`${op.name}\` |`))).toHaveLength(1);
});
