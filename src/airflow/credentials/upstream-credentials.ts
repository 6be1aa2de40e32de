import type { Policy } from '../../policy/policy.js';

/** Who the proxy calls Airflow for. */
export interface Caller {
  subject: string;
  clientId: string;
  roles: readonly string[];
  policy: Policy;
  /** The verified access token's payload: what `identity.subject` templates read. */
  claims: Readonly<Record<string, unknown>>;
}

/** How the proxy authenticates to one Airflow deployment: the one extension point for credential modes. */
export interface UpstreamCredentials {
  readonly mode: string;
  /** The `Authorization` header for a call made on behalf of `caller`. */
  authorization(caller: Caller): Promise<string>;
  /**
   * Airflow answered 401 to `rejected` (an `authorization()` result; absent: whatever is held): forget it; true
   * when one retry with fresh credentials makes sense.
   */
  invalidate(rejected?: string): boolean;
  /**
   * Airflow answered 403 to `rejected`: true when that is the proxy's credentials failing, not a permission (the call
   * then answers 502, and the mode backs off as after a 401). Only modes whose Airflow hides a refused credential
   * behind a 403 implement it: Airflow 2 treats a wrong Basic password as the anonymous `AUTH_ROLE_PUBLIC` user.
   */
  forbidden?(rejected: string): Promise<boolean>;
}
