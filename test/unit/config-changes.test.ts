import { changedConfigKeys } from '../../src/config/config-changes.js';
import { configSchema, type ConfigInput } from '../../src/config/schema.js';

const base: ConfigInput = { issuer: 'https://broker.example', policy_file: './policy.yaml', directories: {}, upstreams: { prod: { audience: 'https://airflow.example' } } };
const parse = (over: Partial<ConfigInput>) => configSchema.parse({ ...base, ...over });

describe('changedConfigKeys', () => {
  it('names the leaf that changed, not its value', () => {
    expect(changedConfigKeys(parse({}), parse({ proxy: { leeway: '1s' } }))).toEqual(['proxy.leeway']);
  });

  it('nothing for the same config, also when written differently (30s is the default)', () => {
    expect(changedConfigKeys(parse({}), parse({ proxy: { leeway: '30s' } }))).toEqual([]);
  });

  it('added and removed keys, sorted; a list is compared whole', () => {
    const changed = changedConfigKeys(parse({}), parse({ upstreams: { prod: { audience: 'https://airflow.example' }, qa: { audience: 'https://qa.example' } }, introspection: { allowed_clients: ['a'] } }));
    expect(changed).toEqual(['introspection.allowed_clients', 'upstreams.qa']);
  });
});
