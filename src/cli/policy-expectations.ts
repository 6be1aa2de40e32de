import type { SourceProblem } from '../config/yaml-source.js';
import { parseClaimPointer, type ClaimPointer } from '../policy/claim-pointer.js';
import type { BindingSubject, Policy } from '../policy/policy.js';
import { explainCall, UnexplainableCall, type Explanation, type UpstreamApis, type Verdict } from '../admin/explain-call.js';

/**
 * Expectation files for `policy test`: one expectation per line,
 *
 * ```text
 * # comment lines and blank lines are skipped
 * <who> may [(filtered)|(unfiltered)] <METHOD> <PATH> [with <JSON body>]
 * <who> may not <METHOD> <PATH> [with <JSON body>]
 * ```
 *
 * `<who>` is one or more of `client:<id>`, `sub:<subject>`, `group:<name>` (repeatable), `directory:<name>`,
 * `claim:<JSON Pointer>=<value>` (repeatable; a nested claim holding the values given, e.g.
 * `claim:/realm_access/roles=airflow-etl`), or a bare word (a client id): the identity the directory would vouch
 * for, given roles through the policy's bindings. `role:<name>` (repeatable) names the token's roles directly instead. `may` holds for an allowed
 * call, filtered or not; `(filtered)` requires a list filtered to what the token may see, `(unfiltered)` the
 * whole answer. `<PATH>` is below the API root, starts with it (`/api/v2`, `/api/v1` for Airflow 2), or is the proxy's whole path.
 */
export interface Expectation {
  line: number;
  text: string;
  identity: BindingSubject;
  /** Roles named with `role:`; when set, bindings are not consulted. */
  roles: string[] | undefined;
  expect: 'may' | 'filtered' | 'unfiltered' | 'may-not';
  method: string;
  path: string;
  body: unknown;
}

const LINE = /^(?<who>.+?)\s+may\s+(?:(?<not>not)\s+)?(?:\((?<mode>[a-z]+)\)\s+)?(?<method>\S+)\s+(?<path>\S+)(?:\s+with\s+(?<body>.+))?$/d;
const WHO = /^(?:(?<key>client|sub|group|directory|role|claim):)?(?<value>.+)$/;

export function parseExpectations(file: string, text: string): { expectations: Expectation[]; problems: SourceProblem[] } {
  const expectations: Expectation[] = [];
  const problems: SourceProblem[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const lead = raw.length - raw.trimStart().length;
    const content = raw.trim();
    if (content === '' || content.startsWith('#')) return;
    const problem = (column: number, message: string) => problems.push({ file, line, column, path: '', message, severity: 'error' });
    const m = LINE.exec(content);
    if (!m?.groups) return void problem(lead + 1, 'expected "<who> may [not] <METHOD> <PATH> [with <JSON body>]"');
    const col = (name: string) => lead + m.indices!.groups![name]![0] + 1;
    const g = m.groups;
    const mode = g.mode;
    if (mode !== undefined && (g.not || (mode !== 'filtered' && mode !== 'unfiltered'))) {
      return void problem(col('mode'), g.not ? '"may not" takes no (filtered)/(unfiltered)' : `unknown "(${mode})": use (filtered) or (unfiltered)`);
    }
    if (!/^[A-Za-z]+$/.test(g.method!)) return void problem(col('method'), `"${g.method}" is not an HTTP method`);
    const claims: Record<string, unknown> = Object.create(null);
    const identity: BindingSubject = { directory: '', subject: '', clientId: '', groups: [], claims };
    const roles: string[] = [];
    for (const term of g.who!.split(/\s+/)) {
      const { key, value } = WHO.exec(term)!.groups!;
      if (key === 'claim') {
        const eq = value!.indexOf('=');
        const pointer = eq < 0 ? undefined : parseClaimPointer(value!.slice(0, eq));
        if (!pointer) return void problem(col('who'), `"${term}": write claim:<JSON Pointer>=<value>, e.g. claim:/realm_access/roles=airflow-etl`);
        addClaimValue(claims, pointer, value!.slice(eq + 1));
      } else if (key === 'group') identity.groups = [...identity.groups, value!];
      else if (key === 'role') roles.push(value!);
      else if (key === 'sub') identity.subject = value!;
      else if (key === 'directory') identity.directory = value!;
      else identity.clientId = value!;
    }
    const named = identity.clientId || identity.subject || identity.directory || identity.groups.length || Object.keys(claims).length;
    if (roles.length && named) return void problem(col('who'), 'role: names the roles directly; do not combine it with identity terms');
    let body: unknown;
    if (g.body !== undefined) {
      try {
        body = JSON.parse(g.body);
      } catch {
        return void problem(col('body'), 'the body after "with" must be JSON');
      }
    }
    expectations.push({
      line,
      text: content,
      identity,
      roles: roles.length ? roles : undefined,
      expect: g.not ? 'may-not' : ((mode ?? 'may') as Expectation['expect']),
      method: g.method!.toUpperCase(),
      path: g.path!,
      body,
    });
  });
  return { expectations, problems };
}

/** Adds `value` to the array of strings at `pointer`, creating the objects on the way (without prototypes: any name is data). */
function addClaimValue(claims: Record<string, unknown>, pointer: ClaimPointer, value: string): void {
  let at = claims;
  for (const token of pointer.tokens.slice(0, -1)) {
    const next = at[token];
    at = at[token] = typeof next === 'object' && next !== null && !Array.isArray(next) ? (next as Record<string, unknown>) : Object.create(null);
  }
  const last = pointer.tokens.at(-1)!;
  const values = at[last];
  at[last] = Array.isArray(values) ? [...(values as string[]), value] : [value];
}

export interface ExpectationResult {
  expectation: Expectation;
  passed: boolean;
  /** What the proxy would do, or why the call could not be explained. */
  explanation: Explanation | undefined;
  error: string | undefined;
}

const holds = (expect: Expectation['expect'], verdict: Verdict) =>
  expect === 'may' ? verdict !== 'deny' : expect === 'filtered' ? verdict === 'filter' : expect === 'unfiltered' ? verdict === 'allow' : verdict === 'deny';

/** Runs each expectation through bindings (or the named roles) and the proxy's decision path. */
export async function runExpectations(policy: Policy, expectations: readonly Expectation[], apis: UpstreamApis = {}): Promise<ExpectationResult[]> {
  const results: ExpectationResult[] = [];
  for (const expectation of expectations) {
    const roles = expectation.roles ?? policy.rolesFor(expectation.identity);
    try {
      const explanation = await explainCall(policy, { roles, details: undefined }, expectation, apis);
      results.push({ expectation, passed: holds(expectation.expect, explanation.verdict), explanation, error: undefined });
    } catch (err) {
      if (!(err instanceof UnexplainableCall)) throw err;
      results.push({ expectation, passed: false, explanation: undefined, error: err.message });
    }
  }
  return results;
}
