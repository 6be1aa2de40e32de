import type { Config } from '../config/schema.js';
import type { SourceProblem, YamlSource } from '../config/yaml-source.js';
import { appliesOn, type Policy } from '../policy/policy.js';
import { airflowRoles } from '../policy/vocabulary.js';

/**
 * Roles that a `trusted-jwks` upstream cannot serve: the proxy mints each caller's Airflow token with the strongest
 * `airflow_role` of the caller's roles, else the upstream's `default_airflow_role`, else refuses the call. A role
 * with allow grants and no `airflow_role`, in front of an upstream without a default, therefore passes every other
 * check, and then every call of a token carrying only that role is refused: an error for `config check` and
 * `policy check --config`, located on the role in the policy file. A role whose grants are limited to other
 * deployments is not served there, so it is only checked against the upstreams where one of its grants applies.
 */
export function airflowRoleProblems(config: Pick<Config, 'upstreams'>, policy: Policy, source: YamlSource): SourceProblem[] {
  const unserved = Object.entries(config.upstreams).filter(([, up]) => up.credentials?.mode === 'trusted-jwks' && up.credentials.default_airflow_role === undefined);
  if (unserved.length === 0) return [];
  return [...policy.roles.values()].flatMap((role) => {
    if (role.airflowRole !== undefined) return [];
    const here = unserved.filter(([name]) => role.grants.some((g) => appliesOn(g, name))).map(([name]) => `"${name}"`);
    if (here.length === 0) return [];
    const path = ['roles', role.name];
    const them = here.length === 1 ? 'upstream' : 'upstreams';
    const message =
      `this role grants access but names no airflow_role, and ${them} ${here.join(', ')} (trusted-jwks) ${here.length === 1 ? 'has' : 'have'} no default_airflow_role, ` +
      `so every call of a token with only this role is refused there: set airflow_role on the role (${orList(airflowRoles)}), ` +
      'or credentials.default_airflow_role on the upstream';
    return [source.problem(path, message, 'error', source.locateKey(path))];
  });
}

const orList = (items: readonly string[]) => `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
