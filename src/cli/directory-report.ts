import { resolveRoles } from '../broker/role-resolution.js';
import type { DirectoryConfig } from '../config/schema.js';
import type { ClientInspection, DirectoryProblemCode } from '../directory/directory.js';
import { OAuthError } from '../errors/oauth-error.js';
import type { BindingVerdict, Policy } from '../policy/policy.js';
import { hintFor } from './directory-hints.js';

/** The directory's problems, and the policy's: no role at all, or a binding that just misses what the directory sends. */
export type ReportProblemCode = DirectoryProblemCode | 'no_role' | 'binding_near_miss';

export interface ReportProblem {
  code: ReportProblemCode;
  message: string;
  expected?: unknown;
  received?: unknown;
  /** The fix to try. */
  hint?: string;
}

/** A claim that directories use for groups or roles, named by its JSON Pointer (RFC 6901) as bindings name it. */
export interface RoleClaim {
  pointer: string;
  values: string[];
}

/** `directory check --json`: everything the text report says. */
export interface DirectoryReport {
  directory: string;
  issuer: string;
  /** The `aud` the config expects (`client_credentials.audience`). */
  audience: string | null;
  client_id: string;
  /** The client would get a token with at least one role, and nothing is wrong. */
  ok: boolean;
  /** The broker accepts the directory's token for this client (no directory problem). */
  accepted: boolean;
  discovery: ClientInspection['discovery'] | null;
  /** The directory's access token, header and claims (never its signature). */
  token: { header: Record<string, unknown>; payload: Record<string, unknown>; signature_verified: boolean } | null;
  /** The token's `alg`, and whether the broker accepts it from this directory. */
  algorithm: { received: unknown; accepted: boolean } | null;
  identity: { subject: string; client_id: string; client_id_claim: string; groups: readonly string[]; groups_claim: string } | null;
  role_claims: RoleClaim[];
  /** Every binding of the policy, judged by the policy itself; empty when no identity could be read. */
  bindings: BindingVerdict[];
  /** The roles a token request without `scope` gets (once the problems are fixed, when there are any). */
  roles: string[];
  problems: ReportProblem[];
  notes: string[];
}

export interface ReportInput {
  name: string;
  config: DirectoryConfig;
  clientId: string;
  inspection: ClientInspection;
  policy: Policy;
}

/** Puts the directory's answer beside the policy: which bindings match, what gets which role, what to fix. */
export function directoryReport({ name, config, clientId, inspection, policy }: ReportInput): DirectoryReport {
  const ctx = { directory: name, issuer: config.issuer };
  const problems: ReportProblem[] = inspection.problems.map((p) => withHint({ ...p }, hintFor(p, ctx)));
  const notes: string[] = [];
  const payload = inspection.token?.payload;
  const claims = payload ? roleClaims(payload) : [];
  const identity = inspection.identity;
  let bindings: BindingVerdict[] = [];
  let roles: string[] = [];
  if (identity && payload) {
    bindings = policy.explainBindings(identity);
    roles = boundRoles(policy, identity);
    const groupsPointer = config.claims.groups.startsWith('/') ? config.claims.groups : toPointer([config.claims.groups]);
    problems.push(...nearMisses(bindings, identity, claims, groupsPointer, name));
    if (roles.length === 0 && !problems.some((p) => p.code === 'binding_near_miss')) {
      problems.push({
        code: 'no_role',
        message: `no binding of the policy matches client ${identity.clientId}`,
        hint: `bind it by client id (when: { client_id: ${identity.clientId} }) or by a group or role the directory sends (see the claims above)`,
      });
    }
    notes.push(...identityNotes(identity, payload, bindings, config, name));
  }
  const accepted = inspection.problems.length === 0;
  return {
    directory: name,
    issuer: config.issuer,
    audience: config.client_credentials?.audience ?? null,
    client_id: clientId,
    ok: accepted && problems.length === 0 && roles.length > 0,
    accepted,
    discovery: inspection.discovery ?? null,
    algorithm: inspection.token
      ? { received: inspection.token.header.alg, accepted: !inspection.problems.some((p) => p.code === 'algorithm_not_allowed') }
      : null,
    token: inspection.token ? { header: inspection.token.header, payload: inspection.token.payload, signature_verified: inspection.token.signatureVerified } : null,
    identity:
      identity && payload
        ? {
            subject: identity.subject,
            client_id: identity.clientId,
            client_id_claim: config.claims.client_id.find((c) => typeof payload[c] === 'string' && payload[c] !== '') ?? config.claims.subject,
            groups: identity.groups,
            groups_claim: config.claims.groups,
          }
        : null,
    role_claims: claims,
    bindings,
    roles,
    problems,
    notes,
  };
}

/** The broker's own resolution for a request without `scope`: every bound role, or none. */
function boundRoles(policy: Policy, identity: NonNullable<ClientInspection['identity']>): string[] {
  try {
    return resolveRoles(policy, identity, undefined);
  } catch (err) {
    if (err instanceof OAuthError && err.code === 'invalid_scope') return [];
    throw err;
  }
}

function withHint(problem: ReportProblem, hint: string | undefined): ReportProblem {
  return hint === undefined ? problem : { ...problem, hint };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** RFC 6901: `~` and `/` inside a name are escaped, so a URL-named claim is one segment. */
function toPointer(segments: readonly string[]): string {
  return segments.map((s) => `/${s.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

/** Where Keycloak, Entra ID, Okta and most others put groups and roles. */
function roleClaims(payload: Record<string, unknown>): RoleClaim[] {
  const found: RoleClaim[] = [];
  const add = (segments: string[], raw: unknown) => {
    const values = Array.isArray(raw) ? raw.filter((v): v is string => typeof v === 'string') : typeof raw === 'string' ? raw.split(' ').filter(Boolean) : undefined;
    if (values) found.push({ pointer: toPointer(segments), values });
  };
  add(['groups'], payload.groups);
  add(['roles'], payload.roles);
  if (isRecord(payload.realm_access)) add(['realm_access', 'roles'], payload.realm_access.roles);
  if (isRecord(payload.resource_access)) {
    for (const [client, access] of Object.entries(payload.resource_access)) if (isRecord(access)) add(['resource_access', client, 'roles'], access.roles);
  }
  add(['scope'], payload.scope);
  add(['scp'], payload.scp);
  return found;
}

const listOf = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : typeof value === 'string' ? [value] : []);

/** Bindings that do not hold although the directory sends something very close to what they name. */
function nearMisses(
  bindings: readonly BindingVerdict[],
  identity: NonNullable<ClientInspection['identity']>,
  claims: readonly RoleClaim[],
  groupsPointer: string,
  directory: string,
): ReportProblem[] {
  const found: ReportProblem[] = [];
  const miss = (binding: BindingVerdict, message: string, expected: string, received: unknown, hint: string) =>
    found.push({ code: 'binding_near_miss', message: `binding #${binding.index + 1} (${binding.role}): ${message}`, expected, received, hint });
  for (const binding of bindings.filter((b) => !b.holds)) {
    for (const want of listOf(binding.when.groups)) {
      if (identity.groups.includes(want)) continue;
      const fullPath = identity.groups.find((g) => g.endsWith(`/${want}`));
      const otherCase = identity.groups.find((g) => g.toLowerCase() === want.toLowerCase());
      // scope and scp are single strings of several values: a claim condition compares the whole string.
      const elsewhere = claims.find((c) => c.pointer !== groupsPointer && c.pointer !== '/scope' && c.pointer !== '/scp' && c.values.includes(want));
      if (fullPath) {
        miss(binding, `your bindings say \`${want}\`, the directory sends \`${fullPath}\``, want, fullPath,
          'a full group path: turn off "Full group path" in the Keycloak Group Membership mapper, or bind the path exactly as it is sent');
      } else if (otherCase) {
        miss(binding, `your bindings say \`${want}\`, the directory sends \`${otherCase}\``, want, otherCase, 'bindings match exactly, case included: write the name as the directory sends it');
      } else if (elsewhere) {
        const configured = elsewhere.pointer === '/roles' ? 'roles' : elsewhere.pointer;
        miss(binding, `your bindings say groups \`${want}\`, the directory sends \`${want}\` in ${elsewhere.pointer}, not in the groups claim ${groupsPointer}`, want, elsewhere.pointer,
          `bind it by claim path: when: { claims: { "${elsewhere.pointer}": ${want} } }, or read groups from there: directories.${directory}.claims.groups: ${configured}` +
            (elsewhere.pointer === '/roles' ? ' (Entra ID sends app roles of app-only tokens in roles)' : ''));
      }
    }
    for (const want of listOf(binding.when.subject)) {
      if (want !== identity.subject && want === identity.clientId) {
        miss(binding, `your bindings say subject \`${want}\`, the directory's subject is \`${identity.subject}\``, want, identity.subject,
          `bind (and revoke) service accounts by client id: when: { client_id: ${want} }`);
      }
    }
  }
  return found;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function identityNotes(
  identity: NonNullable<ClientInspection['identity']>,
  payload: Record<string, unknown>,
  bindings: readonly BindingVerdict[],
  config: DirectoryConfig,
  directory: string,
): string[] {
  const notes: string[] = [];
  if (UUID.test(identity.subject) && identity.subject !== identity.clientId) {
    notes.push(`the subject is a UUID (Keycloak names a service account by its user's id): bind and revoke this account by client id (${identity.clientId}), not by subject`);
  }
  const groupsName = config.claims.groups;
  if (!groupsName.startsWith('/') && payload[groupsName] === undefined && bindings.some((b) => b.when.groups !== undefined)) {
    notes.push(
      `the token carries no ${groupsName} claim (directories.${directory}.claims.groups), so no when.groups binding can hold: ` +
        'Keycloak: add a Group Membership mapper (Token Claim Name groups, Full group path off); Entra ID: app roles arrive in roles',
    );
  }
  return notes;
}

/** The text report: what the broker sees, the bindings, the roles, the problems with their fixes. */
export function formatDirectoryReport(r: DirectoryReport): string {
  const lines = [`directory ${r.directory} (${r.issuer}), client ${r.client_id}`];
  const row = (label: string, text: string) => lines.push(`  ${label.padEnd(12)} ${text}`);
  const accepting = r.discovery?.acceptedAlgorithms ? `the broker accepts ${r.discovery.acceptedAlgorithms.join(', ')}` : 'the broker accepts any algorithm the key fits';
  if (r.discovery) row('discovery', `token endpoint ${r.discovery.tokenEndpoint ?? '(none)'}; signs ID tokens with ${r.discovery.signingAlgorithms.join(', ') || '(not said)'}`);
  if (r.token) {
    const { header, payload } = r.token;
    row('token', `a JWT access token, ${r.token.signature_verified ? 'signature verified' : 'signature NOT verified'} (alg ${String(header.alg)}, kid ${String(header.kid ?? '-')})`);
    row('issuer', `${JSON.stringify(payload.iss)} (the config says ${JSON.stringify(r.issuer)})`);
    row('audience', `${JSON.stringify(payload.aud ?? null)} (the config expects ${JSON.stringify(r.audience)})`);
  }
  if (r.algorithm) row('algorithm', `${String(r.algorithm.received)}: ${r.algorithm.accepted ? 'accepted' : 'NOT accepted'} (${accepting})`);
  if (r.identity) {
    row('subject', r.identity.subject);
    row('client id', `${r.identity.client_id} (claim ${r.identity.client_id_claim})`);
    row('groups', `[${r.identity.groups.join(', ')}] (claim ${r.identity.groups_claim}: what when.groups matches)`);
  }
  for (const c of r.role_claims) row('claim', `${c.pointer}: [${c.values.join(', ')}]`);
  if (r.bindings.length > 0) {
    lines.push(r.accepted ? 'bindings' : 'bindings (once the problems below are fixed)');
    for (const b of r.bindings) lines.push(`  ${b.holds ? 'matches' : 'no     '} #${b.index + 1} ${b.role} when ${JSON.stringify(b.when)}`);
    lines.push(`${r.accepted ? 'roles' : 'roles once fixed'}: ${r.roles.length > 0 ? r.roles.join(' ') : '(none)'}`);
  }
  if (r.problems.length > 0) {
    lines.push('problems');
    for (const p of r.problems) {
      const named = [p.expected !== undefined ? `expected ${JSON.stringify(p.expected)}` : '', p.received !== undefined ? `received ${JSON.stringify(p.received)}` : ''].filter(Boolean);
      const values = named.length > 0 ? ` (${named.join(', ')})` : '';
      lines.push(`  - ${p.code}: ${p.message}${values}`);
      if (p.hint) lines.push(`    fix: ${p.hint}`);
    }
  }
  for (const n of r.notes) lines.push(`note: ${n}`);
  lines.push(verdict(r));
  // Claim values are the directory's text: no control character (a terminal escape sequence) reaches the terminal.
  return `${lines.map((l) => l.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?')).join('\n')}\n`;
}

function verdict(r: DirectoryReport): string {
  if (r.ok) return `ok: the broker would issue ${r.client_id} a token with the roles ${r.roles.join(' ')}`;
  const counted = `not ok: ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}`;
  if (!r.accepted) return `${counted}; the broker refuses ${r.client_id} at this directory`;
  if (r.roles.length === 0) return `${counted}; the broker accepts ${r.client_id} but binds it to no role`;
  return `${counted}; the broker would issue the roles ${r.roles.join(' ')}, but a binding does not match what the directory sends`;
}
