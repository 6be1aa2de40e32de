import type { DirectoryIdentity } from '../../directory/directory.js';
import type { PresentedClient } from '../client-credentials.js';

export interface GrantRequest {
  params: ReadonlyMap<string, string>;
  client: PresentedClient | undefined;
}

/** A grant type of the token endpoint: it establishes who the token is for. Roles are resolved afterwards. */
export interface Grant {
  readonly grantType: string;
  identify(request: GrantRequest): Promise<DirectoryIdentity>;
  /**
   * Told of the token issued on `request` before it is answered; may refuse it by throwing (the grant then revokes
   * it). The authorization code grant records the token with its code, so a replayed code revokes it.
   */
  issued?(request: GrantRequest, token: { jti: string; exp: number }): Promise<void>;
}

/** The one door through which grant types are registered. */
export class GrantRegistry {
  private readonly grants = new Map<string, Grant>();

  register(grant: Grant): this {
    this.grants.set(grant.grantType, grant);
    return this;
  }

  get(grantType: string): Grant | undefined {
    return this.grants.get(grantType);
  }

  get grantTypes(): string[] {
    return [...this.grants.keys()];
  }
}
