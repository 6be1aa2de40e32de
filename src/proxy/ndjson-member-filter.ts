import { OAuthError } from '../errors/oauth-error.js';

const NEWLINE = 0x0a;
/** The longest line kept while it is incomplete: a `/wait` line is a state and a few results. */
const MAX_LINE = 1024 * 1024;

/**
 * Rewrites an NDJSON stream line by line without `member` in any object line (the chunks may split lines
 * anywhere); other lines pass byte for byte. A line that is not JSON, or longer than 1 MiB, fails the stream
 * (`upstream_error`): a line the proxy cannot read is never passed on unfiltered.
 */
export class NdjsonMemberFilter {
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  constructor(private readonly member: string) {}

  /** The complete lines `chunk` finishes, rewritten; the rest waits for the next chunk. */
  push(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
      out.push(this.#rewrite(this.#take(chunk.subarray(start, nl))), Buffer.from('\n'));
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.#pendingBytes += chunk.length - start;
      if (this.#pendingBytes > MAX_LINE) throw new OAuthError('upstream_error', "Airflow's stream has a line too long to read");
      this.#pending.push(chunk.subarray(start));
    }
    return out.length === 0 ? Buffer.alloc(0) : Buffer.concat(out);
  }

  /** A last line without its newline, rewritten. */
  end(): Buffer {
    return this.#pendingBytes === 0 ? Buffer.alloc(0) : this.#rewrite(this.#take(Buffer.alloc(0)));
  }

  #take(tail: Buffer): Buffer {
    if (this.#pendingBytes === 0) return tail;
    const line = Buffer.concat([...this.#pending, tail]);
    this.#pending = [];
    this.#pendingBytes = 0;
    return line;
  }

  #rewrite(line: Buffer): Buffer {
    if (line.toString().trim() === '') return line;
    let value: unknown;
    try {
      value = JSON.parse(line.toString());
    } catch {
      throw new OAuthError('upstream_error', "Airflow's stream has a line that is not JSON");
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.hasOwn(value, this.member)) return line;
    const { [this.member]: _removed, ...kept } = value as Record<string, unknown>;
    return Buffer.from(JSON.stringify(kept));
  }
}
