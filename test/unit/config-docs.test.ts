import { readFileSync } from 'node:fs';
import { renderConfigDocs } from '../../src/config/config-docs.js';

test('docs/configuration.md is generated from the current config schema', () => {
  const checkedIn = readFileSync('docs/configuration.md', 'utf8');
  if (checkedIn !== renderConfigDocs()) {
    throw new Error('docs/configuration.md is stale: run `npm run docs:config` and commit the result');
  }
});

test('every option of the schema appears with its dotted path', () => {
  const docs = renderConfigDocs('issuer: https://example.com\n');
  for (const path of ['issuer', 'server.port', 'directories.<name>.issuer', 'upstreams.<name>.audience', 'rate_limits.per_ip.per']) {
    expect(docs).toContain(`\`${path}\``);
  }
  expect(docs).toContain('```yaml\nissuer: https://example.com\n```');
});

test('credentials-modes-undocumented: every option of each credentials mode appears, under its mode', () => {
  const docs = renderConfigDocs('issuer: https://example.com\n');
  expect(docs).toContain('### `upstreams.<name>.credentials.mode`\n');
  expect(docs).toContain('- Type: one of `service-account`, `trusted-jwks`');
  for (const [option, mode] of [
    ['username', 'service-account'],
    ['login_backoff', 'service-account'],
    ['jwt_audience', 'trusted-jwks'],
    ['identity.subject', 'trusted-jwks'],
    ['identity.fab_roles.admin', 'trusted-jwks'],
  ]) {
    expect(docs).toContain(`### \`upstreams.<name>.credentials.${option}\` (mode \`${mode}\`)\n`);
  }
});
