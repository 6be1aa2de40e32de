// `npm run build && node dist/scripts/gen-catalog-docs.js`: rewrites docs/airflow-catalog.md from the catalog.
import { mkdirSync, writeFileSync } from 'node:fs';
import { renderCatalogDocs } from '../src/airflow/catalog/catalog-docs.js';

mkdirSync('docs', { recursive: true });
writeFileSync('docs/airflow-catalog.md', renderCatalogDocs());
console.log('wrote docs/airflow-catalog.md');
