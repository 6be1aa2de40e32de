/**
 * A first check of a run's `conf` against the DAG's params (`GET /dags/{id}/details`: `params` maps each name to
 * `{value, schema, description}`), so a person sees a typo before triggering. Airflow validates the conf itself
 * when the run is created; its answer (and the proxy's) is what counts.
 */

export interface DagParam {
  value?: unknown;
  schema?: { type?: string | string[]; enum?: unknown[] } & Record<string, unknown>;
  description?: string | null;
}

export type DagParams = Record<string, DagParam>;

export interface ConfCheck {
  conf?: Record<string, unknown>;
  problems: string[];
}

const typeOf = (value: unknown): string => {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
};

const fits = (value: unknown, type: string) => {
  const actual = typeOf(value);
  return actual === type || (type === 'number' && actual === 'integer');
};

const allowedTypes = (param: DagParam): string[] => {
  const type = param.schema?.type;
  return type === undefined ? [] : Array.isArray(type) ? type : [type];
};

/** The conf the form starts with: each param's default. */
export function defaultConf(params: DagParams): Record<string, unknown> {
  return Object.fromEntries(Object.entries(params).map(([name, p]) => [name, p.value ?? null]));
}

/** Parses `text` (empty means `{}`) and checks it against `params`: types, `enum`, and params without a default. */
export function checkConf(text: string, params: DagParams): ConfCheck {
  let conf: unknown;
  try {
    conf = text.trim() === '' ? {} : JSON.parse(text);
  } catch (err) {
    return { problems: [`the configuration is not JSON: ${(err as Error).message}`] };
  }
  if (typeOf(conf) !== 'object') return { problems: ['the configuration must be a JSON object, e.g. {"source": "manual"}'] };
  const values = conf as Record<string, unknown>;
  const problems: string[] = [];
  for (const [name, param] of Object.entries(params)) {
    const types = allowedTypes(param);
    if (!Object.hasOwn(values, name)) {
      // Left out: Airflow uses the default; a param without one (and not nullable) must be given.
      if ((param.value === undefined || param.value === null) && types.length > 0 && !types.includes('null')) problems.push(`"${name}" is required (${types.join(' or ')})`);
      continue;
    }
    const value = values[name];
    if (types.length > 0 && !types.some((t) => fits(value, t))) problems.push(`"${name}" must be ${types.join(' or ')}, not ${typeOf(value)}`);
    const choices = param.schema?.enum;
    if (Array.isArray(choices) && !choices.some((c) => JSON.stringify(c) === JSON.stringify(value))) {
      problems.push(`"${name}" must be one of ${choices.map((c) => JSON.stringify(c)).join(', ')}`);
    }
  }
  return problems.length > 0 ? { problems } : { conf: values, problems };
}
