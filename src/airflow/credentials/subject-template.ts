import { OAuthError } from '../../errors/oauth-error.js';

type Part = { text: string } | { claim: string };

/** A claim name: anything but braces and white space (claim names may be URIs, e.g. `https://example.com/upn`). */
const CLAIM_NAME = /^[^{}\s]+$/;

/**
 * `identity.subject` of a `trusted-jwks` upstream: which name Airflow records for the caller (the `sub` of the
 * minted token), as a template over the caller's verified access-token claims, e.g. `{sub}` or `svc:{client_id}`.
 * A claim's value is inserted as it is and never read as a template itself.
 */
export class SubjectTemplate {
  private constructor(
    readonly source: string,
    private readonly parts: readonly Part[],
  ) {}

  /** The claims the template names, in order. */
  get claims(): string[] {
    return this.parts.flatMap((p) => ('claim' in p ? [p.claim] : []));
  }

  /** Why `source` is not a usable template, or undefined when it is (for the config schema). */
  static problem(source: string): string | undefined {
    const parsed = split(source);
    return typeof parsed === 'string' ? parsed : undefined;
  }

  static parse(source: string): SubjectTemplate {
    const parsed = split(source);
    if (typeof parsed === 'string') throw new Error(`identity.subject ${JSON.stringify(source)}: ${parsed}`);
    return new SubjectTemplate(source, parsed);
  }

  /**
   * The name for a caller with these claims. A claim the template names that the token lacks, or that is not a
   * non-empty string, refuses the call (403): the proxy never guesses who the caller is.
   */
  render(claims: Readonly<Record<string, unknown>>): string {
    return this.parts
      .map((p) => {
        if ('text' in p) return p.text;
        const value = Object.hasOwn(claims, p.claim) ? claims[p.claim] : undefined;
        const why =
          value === undefined ? `the token has no claim "${p.claim}"`
          : typeof value !== 'string' ? `claim "${p.claim}" is not a string`
          : value === '' ? `claim "${p.claim}" is empty`
          : undefined;
        if (why) {
          throw new OAuthError('insufficient_scope', `${why}, which this deployment's identity.subject (${this.source}) needs to name the caller in Airflow`, {
            extra: { reason: 'identity-claim-missing' },
          });
        }
        return value as string;
      })
      .join('');
  }
}

function split(source: string): Part[] | string {
  const parts: Part[] = [];
  let rest = source;
  while (rest !== '') {
    const open = rest.indexOf('{');
    const close = rest.indexOf('}');
    if (open === -1) {
      if (close !== -1) return 'unbalanced "}"';
      parts.push({ text: rest });
      break;
    }
    if (close !== -1 && close < open) return 'unbalanced "}"';
    if (open > 0) parts.push({ text: rest.slice(0, open) });
    const end = rest.indexOf('}', open);
    if (end === -1) return 'unbalanced "{"';
    const name = rest.slice(open + 1, end);
    if (name.includes('{')) return 'unbalanced "{"';
    if (name === '') return 'empty claim name "{}"';
    if (!CLAIM_NAME.test(name)) return `${JSON.stringify(name)} is not a claim name (no spaces or braces)`;
    parts.push({ claim: name });
    rest = rest.slice(end + 1);
  }
  if (!parts.some((p) => 'claim' in p)) return 'names no claim: every caller would be the same Airflow user';
  return parts;
}
