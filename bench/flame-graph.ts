import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CpuProfile } from './profile-summary.js';

/**
 * A self-contained SVG flame graph of a V8 `.cpuprofile` (no dependency, opens in a browser; hover a frame for
 * its name and time). Identical frames under the same parent are merged; `(idle)` is left out, so the widths are
 * shares of the main thread's busy time. Usage: `node dist/bench/flame-graph.js FILE.cpuprofile OUT.svg`.
 */

interface Frame {
  name: string;
  where: string;
  us: number;
  children: Map<string, Frame>;
}

const ROW = 16;
const WIDTH = 1600;

export function flameGraphSvg(profile: CpuProfile, title: string): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
  }
  const root: Frame = { name: 'all', where: '', us: 0, children: new Map() };
  // Walk the call tree, merging children that are the same function.
  const walk = (id: number, into: Frame): number => {
    const node = byId.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') return 0;
    const key = `${functionName}@${url}:${lineNumber}`;
    let frame = into.children.get(key);
    if (!frame) {
      frame = { name: functionName || '(anonymous)', where: url ? `${url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${lineNumber + 1}` : '', us: 0, children: new Map() };
      into.children.set(key, frame);
    }
    let us = selfUs.get(id) ?? 0;
    for (const c of node.children ?? []) us += walk(c, frame);
    frame.us += us;
    return us;
  };
  const top = profile.nodes[0]!;
  for (const c of top.children ?? []) root.us += walk(c, root);

  const rects: string[] = [];
  let depth = 0;
  const scale = root.us > 0 ? WIDTH / root.us : 0;
  const draw = (f: Frame, x: number, level: number) => {
    const w = f.us * scale;
    if (w < 0.3) return;
    depth = Math.max(depth, level);
    const pct = ((100 * f.us) / root.us).toFixed(2);
    const label = `${f.name} ${f.where} (${(f.us / 1000).toFixed(1)} ms, ${pct}%)`;
    const text = w > 40 ? `<text x="${(x + 3).toFixed(1)}" y="${level * ROW + 12}">${escape(f.name.slice(0, Math.floor(w / 7)))}</text>` : '';
    rects.push(`<g><title>${escape(label)}</title><rect x="${x.toFixed(1)}" y="${level * ROW}" width="${w.toFixed(1)}" height="${ROW - 1}" fill="${color(f.where)}"/>${text}</g>`);
    let cx = x;
    for (const c of [...f.children.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      draw(c, cx, level + 1);
      cx += c.us * scale;
    }
  };
  draw(root, 0, 1);
  const height = (depth + 2) * ROW;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="monospace" font-size="11">`,
    `<text x="4" y="12">${escape(title)}: ${(root.us / 1000).toFixed(0)} ms busy on the main thread (hover a frame)</text>`,
    ...rects,
    '</svg>',
  ].join('\n');
}

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Warm colours for JavaScript by where it comes from: node internals, dependencies, our code, native. */
function color(where: string): string {
  if (where.startsWith('node:')) return '#f2a65a';
  if (where.startsWith('node_modules/')) return '#e8d35d';
  if (where.startsWith('dist/')) return '#e06c5b';
  return '#c9c9c9';
}

export function writeFlameGraph(profileFile: string, svgFile: string, title: string): void {
  writeFileSync(svgFile, flameGraphSvg(JSON.parse(readFileSync(profileFile, 'utf8')) as CpuProfile, title));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, out] = process.argv.slice(2);
  if (!file || !out) {
    process.stderr.write('usage: node dist/bench/flame-graph.js FILE.cpuprofile OUT.svg\n');
    process.exit(2);
  }
  writeFlameGraph(file, out, file);
}
