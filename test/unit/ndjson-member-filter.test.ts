import { NdjsonMemberFilter } from '../../src/proxy/ndjson-member-filter.js';

const stream = '{"state": "running"}\n{"state":"success","results":{"op":42}}\n';

function run(chunks: string[]): string {
  const filter = new NdjsonMemberFilter('results');
  return Buffer.concat([...chunks.map((c) => filter.push(Buffer.from(c))), filter.end()]).toString();
}

describe('NdjsonMemberFilter', () => {
  it('removes the member from object lines; other lines pass byte for byte', () => {
    expect(run([stream])).toBe('{"state": "running"}\n{"state":"success"}\n');
  });

  it('gives the same output however the chunks split the lines (one byte at a time)', () => {
    expect(run([...stream])).toBe('{"state": "running"}\n{"state":"success"}\n');
  });

  it('a last line without its newline is rewritten at the end', () => {
    expect(run(['{"state":"success","results":1}'])).toBe('{"state":"success"}');
  });

  it('a line that is not JSON fails the stream rather than pass unfiltered', () => {
    expect(() => run(['{"state":"success","results":{"x":1}\n'])).toThrow(/not JSON/);
    expect(() => run(['not json\n'])).toThrow(expect.objectContaining({ code: 'upstream_error' }));
  });

  it('a line longer than 1 MiB fails the stream', () => {
    const filter = new NdjsonMemberFilter('results');
    expect(() => {
      for (let i = 0; i < 20; i++) filter.push(Buffer.alloc(64 * 1024, 0x20));
    }).toThrow(/too long/);
  });
});
