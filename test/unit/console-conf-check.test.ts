import { checkConf, defaultConf, type DagParams } from '../../console/src/conf-check.js';

/** The console's first check of a run's conf against the DAG's params, as `GET /dags/{id}/details` gives them. */
const params: DagParams = {
  source: { value: 'manual', schema: { type: 'string' }, description: 'who triggered' },
  rows: { value: null, schema: { type: 'integer' }, description: null },
  ratio: { value: 0.5, schema: { type: ['number', 'null'] } },
  target: { value: 'primary', schema: { type: 'string', enum: ['primary', 'fallback'] } },
  anything: { value: null, schema: {} },
};

describe('checkConf', () => {
  it('starts the form from the defaults', () => {
    expect(defaultConf(params)).toEqual({ source: 'manual', rows: null, ratio: 0.5, target: 'primary', anything: null });
  });

  it('accepts a conf that fits, extra keys included (Airflow passes them on)', () => {
    expect(checkConf('{"rows": 3, "ratio": null, "target": "fallback", "extra": [1]}', params)).toEqual({ conf: { rows: 3, ratio: null, target: 'fallback', extra: [1] }, problems: [] });
  });

  it('an integer is a number, not the other way round', () => {
    expect(checkConf('{"rows": 3, "ratio": 2}', params).problems).toEqual([]);
    expect(checkConf('{"rows": 3.5}', params).problems).toEqual(['"rows" must be integer, not number']);
  });

  it('names each problem: wrong type, outside the enum, a param without default left out', () => {
    expect(checkConf('{"source": 1, "target": "other"}', params).problems).toEqual([
      '"source" must be string, not integer',
      '"rows" is required (integer)',
      '"target" must be one of "primary", "fallback"',
    ]);
  });

  it('a param given as null is refused unless its type allows null', () => {
    expect(checkConf('{"rows": null}', params).problems).toEqual(['"rows" must be integer, not null']);
  });

  it('refuses what is not a JSON object; an empty text is {}', () => {
    expect(checkConf('[1]', params).problems).toEqual(['the configuration must be a JSON object, e.g. {"source": "manual"}']);
    expect(checkConf('{"rows": ', params).problems[0]).toMatch(/^the configuration is not JSON: /);
    expect(checkConf('  ', {})).toEqual({ conf: {}, problems: [] });
  });
});
