import type { Deployment } from './deployments.js';
import type { OpenApiDocument } from './openapi-document.js';

export interface OpenApiDocumentCacheOptions {
  /** How long a document Airflow gave is served before it is asked again. */
  lifetimeMs: number;
  now: () => number;
}

/**
 * Airflow's documents by deployment, each kept `lifetimeMs` (it changes only when Airflow or its plugins do). One
 * fetch at a time per deployment: concurrent readers share it. A failed fetch is not kept: the next reader asks again.
 */
export class OpenApiDocumentCache {
  readonly #held = new Map<string, { document: OpenApiDocument; until: number }>();
  readonly #pending = new Map<string, Promise<OpenApiDocument>>();

  constructor(
    private readonly load: (deployment: Deployment, credentials?: () => Promise<string>) => Promise<OpenApiDocument>,
    private readonly options: OpenApiDocumentCacheOptions,
  ) {}

  get(deployment: Deployment, credentials?: () => Promise<string>): Promise<OpenApiDocument> {
    const held = this.#held.get(deployment.name);
    if (held && held.until > this.options.now()) return Promise.resolve(held.document);
    let pending = this.#pending.get(deployment.name);
    if (!pending) {
      pending = this.load(deployment, credentials)
        .then((document) => {
          this.#held.set(deployment.name, { document, until: this.options.now() + this.options.lifetimeMs });
          return document;
        })
        .finally(() => this.#pending.delete(deployment.name));
      this.#pending.set(deployment.name, pending);
    }
    return pending;
  }
}
