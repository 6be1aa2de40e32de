import type { SessionReader } from '../../login/session-reader.js';
import type { AuthorizationCodes } from './authorization-codes.js';

/** What the broker's authorization server for the CLI (`login.cli`) is made of, once people log in. */
export interface CliLogin {
  /** The registered public client (`login.cli.client_id`). */
  clientId: string;
  codes: AuthorizationCodes;
  people: SessionReader;
}
