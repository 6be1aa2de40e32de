import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { configSchema } from './schema.js';

/** The part of a JSON Schema node that the configuration reference reads. */
interface SchemaNode {
  type?: string | string[];
  format?: string;
  'x-format'?: string;
  pattern?: string;
  enum?: unknown[];
  anyOf?: SchemaNode[];
  oneOf?: SchemaNode[];
  const?: unknown;
  items?: SchemaNode;
  minItems?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  additionalProperties?: SchemaNode | boolean;
  propertyNames?: SchemaNode;
  description?: string;
  examples?: unknown[];
  default?: unknown;
}

interface Option {
  path: string;
  node: SchemaNode;
  required: boolean;
  /** Closest optional section above this option: a required option is only required inside it. */
  within: string | undefined;
  /** For an option of one branch of a section chosen by `mode` (upstream credentials): that `mode`. */
  mode?: string;
}

const intro = `# Configuration

<!-- Generated from src/config/schema.ts by \`npm run docs:config\`; edit the schema, not this file. -->

The broker reads one YAML file, named by \`--config <file>\`, else by the environment variable
\`AIRFLOW_TOKEN_BROKER_CONFIG\`, else \`config.yaml\` in the working directory. It is validated completely at start
(and by \`airflow-token-broker config check\`): every problem is reported at once, each as
\`file:line:column error: key.path: message\`, and the broker does not start until all are fixed. Unknown keys are
errors, so a misspelt option never goes unnoticed.

- **Secrets** are never written in the file. A secret option takes a \`\${ENV_VAR}\` reference, read from the
  environment at load time; an inline value or an unset variable is an error.
- **Relative paths** (\`policy_file\`, \`keys.dir\`, \`revocation.sqlite_path\`, a file \`audit.destination\`) are
  relative to the directory of the config file, not to the working directory.
- **Defaults from the environment** (what the container image sets, docker/Dockerfile): for keys the file leaves
  unset, \`AIRFLOW_TOKEN_BROKER_LISTEN_HOST\` is the default of \`server.host\` and \`server.ops.host\` (the image:
  \`0.0.0.0\`), and \`AIRFLOW_TOKEN_BROKER_STATE_DIR\` the folder of \`keys.dir\` (\`<dir>/keys\`), \`keys.airflow_dir\`
  (\`<dir>/keys/airflow\`) and \`revocation.sqlite_path\` (\`<dir>/data/revocations.sqlite\`) (the image: \`/app\`,
  its volumes). A value in the file always wins; without these variables the defaults below apply.
- **Durations** are written \`500ms\`, \`30s\`, \`10m\`, \`1h\` or \`7d\`; a bare number means seconds.
- **Maps** such as \`directories\` hold one entry per name you choose; \`<name>\` stands for it below.
`;

/** The configuration reference, generated from the schema; `docs/configuration.md` must equal it. */
export function renderConfigDocs(exampleConfig = readFileSync(resolve('examples/config.yaml'), 'utf8')): string {
  const root = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as SchemaNode;
  const sections = Object.entries(root.properties ?? {}).map(([key, node]) =>
    collectOptions(node, key, root.required?.includes(key) ?? false, undefined)
      .map((option, i) => renderOption(option, i === 0 ? '##' : '###'))
      .join('\n'),
  );
  const example = ['## Full example', '', '`examples/config.yaml`:', '', '```yaml', exampleConfig.trimEnd(), '```', ''].join('\n');
  return [intro, ...sections, example].join('\n');
}

function collectOptions(node: SchemaNode, path: string, required: boolean, within: string | undefined, mode?: string): Option[] {
  const options: Option[] = [{ path, node, required, within, mode }];
  const inner = required ? within : path;
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    options.push(...collectOptions(child, `${path}.${key}`, node.required?.includes(key) ?? false, inner, mode));
  }
  if (typeof node.additionalProperties === 'object') {
    options.push(...collectOptions(node.additionalProperties, `${path}.<name>`, false, inner, mode));
  }
  // A section whose shape is chosen by `mode` (a discriminated union): `mode` first, then each branch's options.
  const branches = modeBranches(node);
  if (branches.length > 0) {
    const description = branches.map(([m, b]) => `- \`${m}\`: ${b.description ?? ''}`).join('\n');
    options.push({ path: `${path}.mode`, node: { enum: branches.map(([m]) => m), description }, required: true, within: path });
  }
  for (const [branchMode, branch] of branches) {
    for (const [key, child] of Object.entries(branch.properties ?? {})) {
      if (key !== 'mode') options.push(...collectOptions(child, `${path}.${key}`, branch.required?.includes(key) ?? false, path, branchMode));
    }
  }
  return options;
}

function modeBranches(node: SchemaNode): Array<[string, SchemaNode]> {
  return (node.oneOf ?? []).flatMap((b) => (typeof b.properties?.mode?.const === 'string' ? [[b.properties.mode.const, b] as [string, SchemaNode]] : []));
}

function renderOption({ path, node, required, within, mode }: Option, heading: string): string {
  const lines = [`${heading} \`${path}\`${mode ? ` (mode \`${mode}\`)` : ''}`, ''];
  if (node.description) lines.push(node.description, '');
  lines.push(`- Type: ${describeType(node)}`);
  if (node.propertyNames?.pattern) lines.push(`- Names: matching \`${node.propertyNames.pattern}\``);
  if (!path.endsWith('.<name>')) lines.push(`- Required: ${required ? (within ? `yes, within \`${within}\`` : 'yes') : 'no'}`);
  if (node.default !== undefined && !isEmptyObject(node.default)) lines.push(`- Default: ${inlineValue(node.default)}`);
  if (node.examples?.length) lines.push(`- Example: ${node.examples.map(inlineValue).join(', ')}`);
  return `${lines.join('\n')}\n`;
}

function describeType(node: SchemaNode): string {
  if (node['x-format'] === 'duration') return 'duration';
  const branches = modeBranches(node);
  if (branches.length > 0) return `section, by \`mode\`: ${listOf(branches.map(([m]) => inlineValue(m)))}`;
  if (node.anyOf) return listOf(node.anyOf.map(describeType));
  if (node.enum) return `one of ${node.enum.map(inlineValue).join(', ')}`;
  if (Array.isArray(node.type)) return listOf(node.type);
  switch (node.type) {
    case 'string':
      if (node.format === 'uri') return 'URL';
      if (node.pattern) return `string matching \`${node.pattern}\``;
      return node.minLength ? 'non-empty string' : 'string';
    case 'integer':
      return describeInteger(node);
    case 'array':
      return `list of ${describeType(node.items ?? {})}${node.minItems ? ` (at least ${node.minItems})` : ''}`;
    case 'object':
      if (node.properties) return 'section';
      return `map of name to ${typeof node.additionalProperties === 'object' && node.additionalProperties.properties ? 'section' : 'value'}`;
    default:
      return node.type ?? 'any';
  }
}

function describeInteger(node: SchemaNode): string {
  // zod adds the safe-integer bounds to every integer; only the narrower ones mean something here.
  const max = node.maximum !== undefined && node.maximum < Number.MAX_SAFE_INTEGER ? node.maximum : undefined;
  if (node.exclusiveMinimum === 0) return 'positive integer';
  if (node.minimum === 0 && max === undefined) return 'non-negative integer';
  if (node.minimum !== undefined && max !== undefined) return `integer from ${node.minimum} to ${max}`;
  if (node.minimum !== undefined) return `integer, at least ${node.minimum}`;
  return 'integer';
}

function listOf(items: string[]): string {
  return items.length > 1 ? `${items.slice(0, -1).join(', ')} or ${items.at(-1)}` : (items[0] ?? '');
}

function inlineValue(value: unknown): string {
  return `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;
}

function isEmptyObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0;
}
