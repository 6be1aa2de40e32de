import { resourceKinds } from '../../policy/vocabulary.js';
import { fabAuthOperations } from './fab-auth-operations.js';
import type { BodyFlag, CheckSpec, IdSource, Operation, PolicyOperation } from './operation.js';
import { airflowV1Operations } from './v1-operations.js';
import { airflowV2Operations } from './v2-operations.js';

const intro = `# Airflow API operations and the permissions they need

<!-- Generated from src/airflow/catalog/v2-operations.ts, fab-auth-operations.ts and v1-operations.ts by
\`npm run build && node dist/scripts/gen-catalog-docs.js\`; edit the tables, not this file. -->

Every operation of Airflow 3's REST API (\`/api/v2\`, checked against Airflow 3.3.2 by
\`test/acceptance/catalog-coverage.test.ts\`) and of Airflow 2's (\`/api/v1\`, checked against Airflow 2.11.2
by \`test/acceptance/catalog-coverage-v1.test.ts\`), FAB's user management on Airflow 3 (\`/auth/fab/v1\`, checked
against provider 3.10.2 by \`test/acceptance/proxy-fab-users.test.ts\`), and the check the proxy makes before
forwarding it. Which table applies is the upstream's \`api\` setting (\`/auth/fab/v1\` is served on \`api: v2\`
deployments); one policy file governs all. A request for a path or method not listed in its deployment's table is
refused; below \`/auth\`, every path but FAB's operations listed here is not found (404), \`/auth/token\` and
\`/auth/logout\` included.

\`users\` and \`roles\` are granted only by grants that name them (\`users: [...]\`, \`roles: [...]\`): no grant of
another kind, however wide (\`dags: ["*"]\`, \`views: ["*"]\`, an \`admin: true\` role), reaches them.

How to read the **Ids** column (where the checked resource ids come from):

- \`path {p}\`: the path parameter \`p\`. A DAG id of \`~\` means every DAG.
- \`query p\`: every occurrence of the query parameter \`p\`; without it, every resource of the kind.
  \`query p (comma list)\`: every item of its comma-separated value.
- \`body f\`: the field \`f\` of the JSON body (an integer counts as its decimal string).
- \`all\`: every resource of the kind, so only a grant covering all of them allows it.
- \`lookup backfill_dag(backfill_id)\`: the DAG of the backfill, asked of Airflow by the proxy.
- For \`views\`, the id is the view's name.

**Notes**: *list* means the answer is filtered to the items the caller may see (by the field named);
*batch* means the body's \`dag_ids\` filter is rewritten to the permitted DAGs; *bulk* means each entity is
checked with the action its bulk action maps to (a create with \`action_on_existence: overwrite\` also needs the
update action); *also* names further checks that must pass too (*when* a body flag says so); *\`{p}\` spans
segments* marks a parameter that takes the rest of the path, \`/\` included; *long poll* marks a call Airflow
holds open while it streams, bounded by the upstream's \`timeouts.long_poll\`.

A path can match more than one operation (\`GET /connections/enqueue-test\` also matches
\`GET /connections/{connection_id}\`; Airflow picks the one it registered first). The proxy then requires every
matching operation to be allowed.

Asset grants match the numeric asset id (\`"42"\`), not the asset's name or URI; Airflow 2 names datasets by URI,
so those operations need a grant on every asset.
`;

/** The operation reference, generated from both catalogs; `docs/airflow-catalog.md` must equal it. */
export function renderCatalogDocs(): string {
  return [
    intro,
    `## Airflow 3: \`/api/v2\`\n`,
    renderCatalogTables(airflowV2Operations),
    `## Airflow 3 with the FAB auth manager: \`/auth/fab/v1\`\n`,
    renderCatalogTables(fabAuthOperations),
    `## Airflow 2: \`/api/v1\` (\`api: v1\`)\n`,
    renderCatalogTables(airflowV1Operations),
  ].join('\n');
}

/** One table per resource kind (and one for the operations without a policy check) of one API version. */
export function renderCatalogTables(operations: readonly Operation[]): string {
  const unchecked = operations.filter((o) => o.access !== 'policy');
  const checked = operations.filter((o): o is PolicyOperation => o.access === 'policy');
  const sections = [
    section(
      'Without a policy check',
      ['Operation', 'Method', 'Path', 'Access'],
      unchecked.map((o) => [code(o.name), o.method, code(o.template), access(o)]),
    ),
    ...resourceKinds.map((kind) =>
      section(
        `Resource \`${kind}\``,
        ['Operation', 'Method', 'Path', 'Action', 'Ids', 'Notes'],
        checked.filter((o) => o.resource === kind).map((o) => [code(o.name), o.method, code(o.template), code(o.action), describeIds(o.ids), notes(o)]),
      ),
    ),
  ];
  return sections.filter((s) => s !== '').join('\n');
}

function access(o: Operation): string {
  if (o.access === 'never') return 'never proxied';
  return o.public ? 'public: no token, no credentials sent to Airflow' : 'any valid token';
}

function section(title: string, header: string[], rows: string[][]): string {
  if (rows.length === 0) return '';
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [`### ${title}`, '', line(header), line(header.map(() => '---')), ...rows.map(line), ''].join('\n');
}

function describeIds(ids: IdSource): string {
  switch (ids.from) {
    case 'path':
      return `path \`{${ids.param}}\``;
    case 'query':
      return `query \`${ids.param}\`${ids.separator ? ' (comma list)' : ''}`;
    case 'body':
      return `body \`${ids.field}\`${ids.optional ? ' (if present)' : ''}`;
    case 'fixed':
      return code(ids.id);
    case 'all':
      return 'all';
    case 'lookup':
      return `lookup \`${ids.lookup}(${ids.param})\``;
  }
}

function notes(o: PolicyOperation): string {
  const out: string[] = [];
  if (o.list) out.push(`list: \`${o.list.itemsKey}[].${o.list.idField}\``);
  if (o.list?.each) out.push(`applied to each permitted match at \`${o.list.each}\``);
  if (o.list?.selector) out.push(`\`${o.list.selector.param}\` required (\`${o.list.selector.all}\` = all)`);
  if (o.batch) out.push(`batch: body \`${o.batch.bodyField}\``);
  if (o.version1Action) out.push(`policy version 1: \`${o.version1Action}\` also grants it`);
  if (o.bulk) {
    const { field, fallbackPathParam, bareString, actions } = o.bulk;
    const mapped = Object.entries(actions).map(([bulkAction, action]) => `${bulkAction} → \`${action}\``);
    const fallback = fallbackPathParam ? ` (else path \`{${fallbackPathParam}}\`${bareString === 'child' ? ', also for a bare string entity' : ''})` : '';
    out.push(`bulk by entity \`${field}\`${fallback}: ${mapped.join(', ')}`);
  }
  for (const c of o.also ?? []) out.push(`also ${describeCheck(c)}${c.when ? ` when ${c.when.map(describeFlag).join(' or ')}` : ''}`);
  for (const p of o.pathParams ?? []) out.push(`\`{${p}}\` spans segments`);
  if (o.longPoll) out.push('long poll; its `results` only with `read_xcom`');
  return out.join('; ');
}

const describeCheck = (c: CheckSpec) => `\`${c.resource}\` \`${c.action}\` on ${describeIds(c.ids)}`;
const code = (text: string) => `\`${text}\``;
const describeFlag = (f: BodyFlag) => `body \`${f.field}\` is \`${f.is}\`${f.default === f.is ? ' or absent' : ''} (or not a boolean)`;
