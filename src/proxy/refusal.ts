import { OAuthError } from '../errors/oauth-error.js';
import { ALL } from '../policy/evaluator.js';
import type { Decision } from './authorize.js';

/** The call as the caller wrote it below the deployment: `POST /api/v2/dags/payroll_monthly/dagRuns`. */
export interface RefusedCall {
  method: string;
  path: string;
}

/**
 * The 403 for a denied call, saying what was refused: the operation (Airflow's operationId), the resource kind and
 * id and the action that was needed, in the body and as one sentence in `error_description` (also the challenge's,
 * and the proxy's `detail`). Only what the caller's own request and the public catalog say: never
 * the policy's contents (no role, pattern or rule), so a refusal teaches nothing about other callers' grants.
 *
 * `{"error":"insufficient_scope","error_description":"the token does not allow trigger on dags payroll_monthly
 * (operation trigger_dag_run)","detail":"...","reason":"no-matching-grant","operation":"trigger_dag_run",
 * "resource":"dags","resource_id":"payroll_monthly","action":"trigger"}`. `resource_id` is absent when the call
 * reaches every resource of its kind (the text then says `all dags`) or its id could not be determined.
 */
export function refusal(denial: Pick<Decision, 'reason' | 'refused'>, call: RefusedCall): OAuthError {
  const fields: Record<string, string> = { reason: denial.reason };
  const interpretation = denial.refused?.interpretation;
  let text: string;
  if (!interpretation) {
    text = `no Airflow operation is known for ${call.method} ${call.path}: the proxy forwards only the operations of its catalog`;
  } else {
    const op = interpretation.operation;
    fields.operation = op.name;
    const check = denial.refused?.check;
    if (interpretation.kind === 'unresolved') {
      Object.assign(fields, { resource: interpretation.operation.resource, action: interpretation.operation.action });
      text = `operation ${op.name} needs ${fields.action} on ${fields.resource}, and the proxy cannot tell which: ${interpretation.why}`;
    } else if (!check) {
      text = `operation ${op.name} is never forwarded by the proxy`;
    } else {
      Object.assign(fields, { resource: check.resource, ...(check.id === ALL ? {} : { resource_id: check.id }), action: check.action });
      const target = check.id === ALL ? `all ${check.resource}` : `${check.resource} ${check.id}`;
      const who = denial.reason === 'outside-authorization-details' ? "the token's authorization_details do not allow" : 'the token does not allow';
      text = `${who} ${check.action} on ${target} (operation ${op.name})`;
    }
  }
  return new OAuthError('insufficient_scope', text, { extra: fields });
}
