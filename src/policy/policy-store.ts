import type { Policy } from './policy.js';

/**
 * Holds the policy in force. A swap is one reference assignment: a request reads `current()` once and keeps
 * that version to the end, so in-flight requests finish under the policy they started with.
 */
export class PolicyStore {
  private policy: Policy;

  constructor(initial: Policy) {
    this.policy = initial;
  }

  current(): Policy {
    return this.policy;
  }

  replace(next: Policy): void {
    this.policy = next;
  }
}
