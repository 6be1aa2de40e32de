import type { Config } from '../config/schema.js';
import { Directory } from './directory.js';

/** The configured directories. Issuers come only from here, never from a token. */
export class Directories {
  readonly all: readonly Directory[];
  private readonly byIssuer: ReadonlyMap<string, Directory>;

  constructor(config: Config['directories']) {
    this.all = Object.entries(config).map(([name, c]) => new Directory(name, c));
    this.byIssuer = new Map(this.all.filter((d) => d.config.token_exchange).map((d) => [d.issuer, d]));
  }

  /** The directory that checks service-account credentials, if any. */
  clientCredentials(): Directory | undefined {
    return this.all.find((d) => d.config.client_credentials);
  }

  /** The directory trusted for token exchange whose issuer is exactly `issuer`. */
  forSubjectTokenIssuer(issuer: string): Directory | undefined {
    return this.byIssuer.get(issuer);
  }

  /** Starts discovery of every directory without waiting; failures are retried on use. */
  warmUp(onError: (name: string, err: unknown) => void): void {
    for (const d of this.all) d.discover().catch((err: unknown) => onError(d.name, err));
  }
}
