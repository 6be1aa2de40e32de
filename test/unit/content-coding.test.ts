import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { acceptsGzip, decodeBody, upstreamAcceptEncoding } from '../../src/http/content-coding.js';

describe('upstreamAcceptEncoding', () => {
  it.each([
    [undefined, 'identity'],
    ['', 'identity'],
    ['gzip', 'gzip'],
    ['gzip, br;q=0.5, zstd', 'gzip, br;q=0.5'],
    ['zstd, compress', 'identity'],
    ['GZIP;q=0.8,identity', 'GZIP;q=0.8, identity'],
    ['constructor, toString', 'identity'],
    ['*', 'identity'],
  ])('%j -> %j', (header, sent) => expect(upstreamAcceptEncoding(header)).toBe(sent));
});

describe('acceptsGzip', () => {
  it.each([
    [undefined, false],
    ['identity', false],
    ['gzip', true],
    ['br, gzip;q=0.1', true],
    ['gzip;q=0', false],
    ['gzip; q=0.000', false],
    ['x-gzip', true],
    ['*', true],
    ['*;q=0', false],
    ['gzip;q=0, *', false],
    ['br', false],
  ])('%j -> %j', (header, accepted) => expect(acceptsGzip(header)).toBe(accepted));
});

describe('decodeBody', () => {
  const text = Buffer.from('{"detail":"Invalid JWT token"}');
  it.each([
    ['gzip', gzipSync(text)],
    ['deflate', deflateSync(text)],
    ['br', brotliCompressSync(text)],
    ['identity', text],
  ])('decodes %s', (coding, body) => expect(decodeBody(body, coding, text.length)).toEqual(text));

  it('a plain body without Content-Encoding is itself', () => expect(decodeBody(text, undefined, 64)).toEqual(text));

  it('a small body that inflates past the bound is not decoded (a compression bomb costs the bound, no more)', () => {
    const bomb = gzipSync(Buffer.alloc(1_000_000, 0x20));
    expect(bomb.length).toBeLessThan(2_000);
    expect(decodeBody(bomb, 'gzip', 64)).toBeUndefined();
  });

  it('unknown, stacked or corrupt codings are not decoded', () => {
    expect(decodeBody(gzipSync(text), 'zstd', 64)).toBeUndefined();
    expect(decodeBody(gzipSync(text), ['gzip', 'gzip'], 64)).toBeUndefined();
    expect(decodeBody(Buffer.from('not gzip'), 'gzip', 64)).toBeUndefined();
  });
});
