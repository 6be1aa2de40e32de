// `npm run docs:config`: rewrites docs/configuration.md from the config schema.
import { mkdirSync, writeFileSync } from 'node:fs';
import { renderConfigDocs } from '../src/config/config-docs.js';

mkdirSync('docs', { recursive: true });
writeFileSync('docs/configuration.md', renderConfigDocs());
console.log('wrote docs/configuration.md');
