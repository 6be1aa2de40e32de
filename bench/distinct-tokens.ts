import { randomUUID } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { decodeJwt, decodeProtectedHeader, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';

/**
 * Bench only: signs tokens like `template` (a token the broker issued) with the broker's own key from its keys directory:
 * same header (`alg`, `kid`, `typ`), the template's claims with `overrides` on top.
 */
export async function brokerSigner(template: string, keysDir: string): Promise<{ claims: JWTPayload; sign(overrides: JWTPayload): Promise<string> }> {
  const header = decodeProtectedHeader(template);
  const claims = decodeJwt(template);
  if (!header.kid || !header.alg || claims.exp === undefined || claims.iat === undefined) throw new Error('the template token has no kid, alg, exp or iat');
  const keyFile = JSON.parse(await readFile(join(keysDir, `${header.kid}.json`), 'utf8')) as { private_jwk: JWK };
  const key = await importJWK(keyFile.private_jwk, header.alg);
  const protectedHeader = { alg: header.alg, kid: header.kid, typ: header.typ };
  return { claims, sign: (overrides) => new SignJWT({ ...claims, ...overrides }).setProtectedHeader(protectedHeader).sign(key) };
}

/**
 * Signs many distinct access tokens offline, far faster than the token endpoint. Each copies the claims of
 * `template` and gets its own `jti`, `iat`, `nbf` and `exp`, so the proxy verifies every one of them.
 */
export async function mintDistinctTokens(options: {
  template: string;
  keysDir: string;
  count: number;
  /** One file per wrk thread, one token per line; the tokens are dealt round-robin. */
  files: string[];
  /**
   * Seconds each token lives; by default the template's lifetime. A long run must outlive its first tokens: wrk
   * starts its file over at the end, and a token minted minutes before the run would by then be refused as expired.
   */
  lifetimeS?: number;
}): Promise<void> {
  const { claims, sign } = await brokerSigner(options.template, options.keysDir);
  const ttl = options.lifetimeS ?? claims.exp! - claims.iat!;

  const outs = options.files.map((f) => createWriteStream(f));
  // One shared wait per full stream, rather than a 'drain' listener per signer.
  const drained = new Map<WriteStream, Promise<unknown>>();
  const drain = (out: WriteStream) => {
    let wait = drained.get(out);
    if (!wait) drained.set(out, (wait = once(out, 'drain').finally(() => drained.delete(out))));
    return wait;
  };
  let next = 0;
  // WebCrypto signs on libuv's threads: keep enough in flight to use every core.
  const signer = async () => {
    for (let i = next++; i < options.count; i = next++) {
      const iat = Math.floor(Date.now() / 1000);
      const token = await sign({ jti: randomUUID(), iat, nbf: iat, exp: iat + ttl });
      const out = outs[i % outs.length]!;
      if (!out.write(token + '\n')) await drain(out);
    }
  };
  await Promise.all(Array.from({ length: 64 }, signer));
  await Promise.all(outs.map((o) => new Promise<void>((resolve, reject) => o.end((err?: Error | null) => (err ? reject(err) : resolve())))));
}
