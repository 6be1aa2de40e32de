import { ALL, evaluateCheck, mayReachSome, type Check, type CheckVerdict, type CompiledPrincipal, type Reason, type RuleRef } from '../policy/evaluator.js';
import type { ListSpec, PolicyOperation } from '../airflow/catalog/operation.js';
import type { ResolvedOperation } from './resolve-checks.js';

export interface Decision {
  allowed: boolean;
  /** The deciding reason. */
  reason: Reason;
  /** The deciding rule (the allow that let it through, or the deny / the grant the narrowing cut). */
  rule: RuleRef | undefined;
  /** Every check of every interpretation, for explanations and audit. */
  verdicts: CheckVerdict[];
  /** The interpretation the proxy acts on (the most specific match). */
  operation: ResolvedOperation | undefined;
  /** Allowed only item by item: the proxy must filter the list (or rewrite the batch) to what `permits` allows. */
  filter: { operation: PolicyOperation; list: ListSpec | undefined } | undefined;
  /**
   * For a denial: the interpretation that was refused (not always the primary one) and the check that refused it,
   * when one did. What a refusal names to the caller. Absent for an unknown operation.
   */
  refused?: { interpretation: ResolvedOperation; check: Check | undefined };
}

const deny = (reason: Reason, operation: ResolvedOperation | undefined, verdicts: CheckVerdict[] = [], refused?: CheckVerdict): Decision => ({
  allowed: false,
  reason,
  rule: refused?.rule,
  verdicts,
  operation,
  filter: undefined,
  ...(operation && { refused: { interpretation: operation, check: refused?.check } }),
});

/** An operation without a policy check (`access: 'public'`): allowed for anyone it is served to. */
export const allowPublic = (operation: ResolvedOperation): Decision => ({
  allowed: true,
  reason: 'public-operation',
  rule: undefined,
  verdicts: [],
  operation,
  filter: undefined,
});

/**
 * Stage 3: the decision, pure. Every interpretation of an ambiguous path must be allowed; default deny;
 * deny wins. A list across all resources that the token may see only part of is allowed as a filtered list.
 */
export function decide(principal: CompiledPrincipal, interpretations: readonly ResolvedOperation[]): Decision {
  const primary = interpretations[0];
  if (!primary) return deny('unknown-operation', undefined);
  const allVerdicts: CheckVerdict[] = [];
  let result: Decision | undefined;
  for (const [i, interpretation] of interpretations.entries()) {
    const d = decideOne(principal, interpretation, i === 0);
    allVerdicts.push(...d.verdicts);
    if (!d.allowed) return { ...d, verdicts: allVerdicts, operation: primary };
    result ??= d;
  }
  return { ...result!, verdicts: allVerdicts };
}

function decideOne(principal: CompiledPrincipal, r: ResolvedOperation, primary: boolean): Decision {
  if (r.kind === 'never') return deny('operation-not-proxied', r);
  if (r.kind === 'public') return allowPublic(r);
  if (r.kind === 'unresolved') return deny('resource-id-unresolved', r);
  const verdicts = r.checks.map((c) => evaluateCheck(principal, c));
  const refused = verdicts.find((v) => !v.allowed);
  if (!refused) return { allowed: true, reason: 'grant-matched', rule: verdicts[0]?.rule, verdicts, operation: r, filter: undefined };
  // A list across everything that the token may see only part of is filtered item by item (the filter
  // applies denies and narrowing per item). Only the interpretation the proxy acts on can be filtered.
  // Only the list-wide check may be filtered: any other refused check (a second resource) still denies.
  const onlyListWide = verdicts.every(
    (v) => v.allowed || (v.check.id === ALL && v.check.resource === r.operation.resource && v.check.action === r.operation.action),
  );
  if (primary && r.listAll && onlyListWide && mayReachSome(principal, r.operation.resource, r.operation.action)) {
    return { allowed: true, reason: 'list-filtered', rule: refused.rule, verdicts, operation: r, filter: { operation: r.operation, list: r.operation.list } };
  }
  return deny(refused.reason, r, verdicts, refused);
}

/** The per-item predicate of a filtered list. */
export function permits(principal: CompiledPrincipal, operation: PolicyOperation, id: string): boolean {
  return evaluateCheck(principal, { resource: operation.resource, action: operation.action, id }).allowed;
}
