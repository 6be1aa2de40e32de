import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * docs/app-developers.md shows the snippet files that the real-client suite runs (test/acceptance/clients-*.test.ts):
 * each `<!-- snippet: path -->` marker is followed by a fenced block that must be that file, byte for byte, so the
 * documented code is the tested code.
 */

const doc = readFileSync('docs/app-developers.md', 'utf8');
const marker = /<!-- snippet: (\S+) -->\n```[a-z]*\n([\s\S]*?)```\n/g;
const shown = [...doc.matchAll(marker)].map((m) => ({ path: m[1]!, block: m[2]! }));
const snippetFiles = ['examples/python', 'examples/shell'].flatMap((dir) => readdirSync(dir).filter((f) => /\.(py|sh)$/.test(f)).map((f) => join(dir, f)));

describe('docs/app-developers.md snippets', () => {
  it.each(shown.map((s) => [s.path, s] as const))('%s is shown as it is', (path, s) => {
    expect(s.block).toBe(readFileSync(path, 'utf8'));
  });

  it('shows every snippet file, once', () => {
    expect(shown.map((s) => s.path).sort()).toEqual(snippetFiles.sort());
  });

  it('has no marker without its block', () => {
    expect((doc.match(/<!-- snippet:/g) ?? []).length).toBe(shown.length);
  });
});
