import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext } from './bench-context.js';
import { writeFlameGraph } from './flame-graph.js';
import { formatProfileSummary, formatSideBySide, summarizeProfile, type CpuProfile, type ProfiledProcess } from './profile-summary.js';
import { RESULTS_DIR } from './settings.js';

/** The Node processes BENCH_CPU_PROF=1 profiles, in the order the report shows them. */
export const PROFILED = ['broker', 'floor', 'stand-in'] as const;

export interface KeptProfiles {
  files: { name: string; profile: string; flameGraph: string }[];
  /** The broker's full summary (steps included), then the three side by side. */
  text: string;
}

/** Copies each process's CPU profile (written when it exits) to bench/results, with its flame graph and summary. */
export function keepProfiles(ctx: BenchContext): KeptProfiles | undefined {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const files: KeptProfiles['files'] = [];
  const processes: ProfiledProcess[] = [];
  let brokerSummary = '';
  for (const name of PROFILED) {
    const dir = join(ctx.tmp, `profile-${name}`);
    const found = existsSync(dir) ? readdirSync(dir).find((f) => f.endsWith('.cpuprofile')) : undefined;
    if (!found) {
      if (ctx.served.get(name)) process.stderr.write(`no CPU profile was written by ${name}\n`);
      continue;
    }
    const profile = join(RESULTS_DIR, `${name}.cpuprofile`);
    copyFileSync(join(dir, found), profile);
    const flameGraph = join(RESULTS_DIR, `${name}-flame.svg`);
    writeFlameGraph(profile, flameGraph, `${name} (bench ${new Date().toISOString()})`);
    files.push({ name, profile, flameGraph });
    const summary = summarizeProfile(JSON.parse(readFileSync(profile, 'utf8')) as CpuProfile, 30);
    if (name === 'broker') brokerSummary = formatProfileSummary(summary);
    processes.push({ name, summary, requests: ctx.served.get(name) ?? 0 });
  }
  if (!files.length) return undefined;
  const text = [
    ...files.map((f) => `${f.name}: CPU profile ${f.profile}, flame graph ${f.flameGraph}`),
    '',
    brokerSummary && `broker:\n${brokerSummary}`,
    '',
    formatSideBySide(processes),
  ].join('\n');
  return { files, text };
}
