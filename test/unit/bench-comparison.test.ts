import { comparisonRatios, formatComparison, halfLoadConnections, halfLoadRefusal, median, secondHalfGrowth, secondHalfPeakGrowth, secondHalfSpread, summarizeRounds, swing, verdict } from '../../bench/comparison.js';
import { flameGraphSvg } from '../../bench/flame-graph.js';
import { formatSideBySide, summarizeProfile, type CpuProfile } from '../../bench/profile-summary.js';
import type { MeasuredRun } from '../../bench/report.js';

/** The arithmetic behind the bench's comparison table, ratios, targets and per-request profile columns. */

function run(scenario: string, rps: number, p50: number, p99: number, errorCount = 0): MeasuredRun {
  return {
    scenario,
    title: scenario,
    threads: 1,
    connections: 32,
    result: {
      requests: rps * 8,
      durationS: 8,
      requestsPerSecond: rps,
      latencyMs: { mean: p50, p50, p90: p99, p99, max: p99 },
      errors: { connect: 0, read: 0, write: 0, status: errorCount, timeout: 0 },
      errorCount,
    },
    cores: { processes: {}, wrk: 0, machineBusy: 0, machineCores: 2 },
  };
}

describe('bench comparison arithmetic', () => {
  it('median-of-odd-and-even-counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
    expect(() => median([])).toThrow();
  });

  it('summarize-rounds-takes-medians-per-target-in-first-seen-order-with-the-p99-range', () => {
    // Interleaved: direct, floor, ours, direct, floor, ours, ...
    const runs = [
      run('direct', 30_000, 0.5, 2),
      run('floor', 9_000, 1.6, 6),
      run('ours', 4_000, 4, 20, 1),
      run('direct', 32_000, 0.6, 1),
      run('floor', 10_000, 1.5, 5),
      run('ours', 5_000, 3, 15),
      run('direct', 31_000, 0.4, 3),
      run('floor', 8_000, 1.7, 7),
      run('ours', 4_500, 5, 23),
    ];
    const s = summarizeRounds(runs);
    expect(s.map((t) => t.id)).toEqual(['direct', 'floor', 'ours']);
    expect(s[0]).toMatchObject({ rounds: 3, requestsPerSecond: 31_000, p50Ms: 0.5, p99Ms: 2, p99RangeMs: [1, 3], errors: 0 });
    expect(s[1]).toMatchObject({ requestsPerSecond: 9_000, p50Ms: 1.6, p99Ms: 6, p99RangeMs: [5, 7] });
    expect(s[2]).toMatchObject({ requestsPerSecond: 4_500, p50Ms: 4, p99Ms: 20, p99RangeMs: [15, 23], errors: 1 });

    const ratios = comparisonRatios(s, 'ours')!;
    expect(ratios.throughput.floor).toBeCloseTo(0.5, 10);
    expect(ratios.throughput.direct).toBeCloseTo(4_500 / 31_000, 10);
    expect(ratios.p99.floor).toBeCloseTo(20 / 6, 10);
    expect(Object.keys(ratios.throughput)).not.toContain('ours');
    expect(comparisonRatios(s, 'missing')).toBeUndefined();

    const table = formatComparison(s);
    expect(table).toContain('| ours | 4,500 | 4.00 ms | 20.00 ms (15.0-23.0) | 1 ! |');
    expect(table).toContain('| direct | 31,000 | 0.50 ms | 2.00 ms (1.0-3.0) | 0 |');
  });

  it('verdict-is-not-met-when-not-measured-or-not-finite', () => {
    expect(verdict('ours / floor', 0.8, '>=', 0.8).met).toBe(true);
    expect(verdict('ours / floor', 0.79, '>=', 0.8).met).toBe(false);
    expect(verdict('p99 ratio', 1.5, '<=', 1.5).met).toBe(true);
    expect(verdict('p99 ratio', 1.51, '<=', 1.5).met).toBe(false);
    expect(verdict('p99 ratio', undefined, '<=', 1.5).met).toBe(false);
    expect(verdict('rss', Infinity, '<=', 0.05).met).toBe(false);
    expect(verdict('ratio', NaN, '>=', 0.8).met).toBe(false);
  });
});

describe('bench half load and memory arithmetic', () => {
  it('swing-is-the-highest-over-the-lowest', () => {
    expect(swing([100, 150, 120])).toBeCloseTo(1.5, 10);
    expect(swing([7])).toBe(1);
    expect(swing([0, 5])).toBe(Infinity);
    expect(() => swing([])).toThrow();
  });

  it('half-load-refused-when-the-direct-figures-move-more-than-the-swing', () => {
    const steady = [
      { label: 'gauge', requestsPerSecond: [20_000, 14_000, 25_000] },
      { label: 'rounds', requestsPerSecond: [9_000, 10_000] },
    ];
    expect(halfLoadRefusal(steady, 2)).toBeUndefined();
    // Exactly 2x is still accepted; one figure alone cannot move.
    expect(halfLoadRefusal([{ label: 'gauge', requestsPerSecond: [10_000, 20_000] }, { label: 'one', requestsPerSecond: [1] }], 2)).toBeUndefined();
    const why = halfLoadRefusal([steady[0]!, { label: 'rounds', requestsPerSecond: [9_000, 3_600, 8_000] }], 2);
    expect(why).toBe('rounds moved 2.5x (9000, 3600, 8000 req/s), more than 2x');
    const both = halfLoadRefusal([{ label: 'gauge', requestsPerSecond: [30_000, 10_000] }, { label: 'rounds', requestsPerSecond: [0, 5] }], 2);
    expect(both).toContain('gauge moved 3.0x');
    expect(both).toContain('rounds moved Infinityx');
  });

  it('half-load-connections-nearest-half-the-peak', () => {
    const probes = [
      { connections: 1, requestsPerSecond: 900 },
      { connections: 2, requestsPerSecond: 1_700 },
      { connections: 3, requestsPerSecond: 2_300 },
    ];
    expect(halfLoadConnections(probes, 4_000)).toBe(2);
    expect(halfLoadConnections(probes, 4_800)).toBe(3);
    expect(halfLoadConnections(probes, 1_000)).toBe(1);
    expect(() => halfLoadConnections([], 4_000)).toThrow();
  });

  it('second-half-growth-is-measured-from-the-middle-sample', () => {
    const MB = 2 ** 20;
    // Grows while the caches fill (first half), then 500 -> at most 520 MB: 4 %, whatever came before.
    const samples = [
      { atS: 0, rssBytes: 200 * MB },
      { atS: 40, rssBytes: 480 * MB },
      { atS: 49.9, rssBytes: undefined },
      { atS: 50, rssBytes: 500 * MB },
      { atS: 70, rssBytes: 520 * MB },
      { atS: 90, rssBytes: undefined },
      { atS: 100, rssBytes: 510 * MB },
    ];
    expect(secondHalfGrowth(samples, 100)).toBeCloseTo(0.04, 10);
    // A first second-half sample without RSS is skipped: the middle is the next one that has it.
    expect(secondHalfGrowth(samples.slice(2), 99.8)).toBeCloseTo(0.04, 10);
    // Shrinking after the middle is no growth: the middle itself is the highest.
    expect(secondHalfGrowth([{ atS: 50, rssBytes: 500 * MB }, { atS: 60, rssBytes: 450 * MB }], 100)).toBe(0);
    expect(secondHalfGrowth([{ atS: 10, rssBytes: 500 * MB }], 100)).toBeUndefined();
  });
});

describe('bench memory envelope', () => {
  const MB = 2 ** 20;
  const saw = (from: number, to: number, trough: number, peak: number) =>
    Array.from({ length: to - from }, (_, i) => ({ atS: from + i, rssBytes: ((from + i) % 20 < 10 ? trough : peak) * MB }));

  it('second-half-peak-growth-ignores-the-sawtooth-and-sees-a-rising-envelope', () => {
    // A steady sawtooth 380-560 MB whose middle sample is a trough: the middle-sample figure says +47 %, the envelope 0.
    const steady = saw(0, 400, 380, 560);
    expect(steady[200]!.rssBytes).toBe(380 * MB);
    expect(secondHalfGrowth(steady, 400)).toBeCloseTo(180 / 380, 10);
    expect(secondHalfPeakGrowth(steady, 400)).toBe(0);
    // The same teeth, the last quarter's peaks 10 % higher: a rising envelope.
    const rising = [...saw(0, 300, 380, 560), ...saw(300, 400, 380, 616)];
    expect(secondHalfPeakGrowth(rising, 400)).toBeCloseTo(0.1, 10);
    // Lower peaks at the end: the envelope fell (negative growth).
    expect(secondHalfPeakGrowth([...saw(0, 300, 380, 560), ...saw(300, 400, 380, 500)], 400)).toBeCloseTo(-60 / 560, 10);
  });

  it('second-half-spread-counts-the-whole-sawtooth-wherever-the-middle-falls', () => {
    expect(secondHalfSpread(saw(0, 400, 380, 560), 400)).toBeCloseTo(180 / 380, 10);
    // Starting the sawtooth on a peak at the middle changes nothing.
    expect(secondHalfSpread(saw(10, 410, 380, 560), 400)).toBeCloseTo(180 / 380, 10);
    const flat = [...saw(0, 200, 100, 600), { atS: 200, rssBytes: 410 * MB }, { atS: 300, rssBytes: 418 * MB }, { atS: 399, rssBytes: undefined }];
    expect(secondHalfSpread(flat, 400)).toBeCloseTo(8 / 410, 10);
    expect(secondHalfSpread([{ atS: 10, rssBytes: MB }], 400)).toBeUndefined();
  });

  it('second-half-peak-growth-needs-samples-in-both-quarters', () => {
    expect(secondHalfPeakGrowth([{ atS: 10, rssBytes: MB }, { atS: 60, rssBytes: MB }], 100)).toBeUndefined();
    expect(secondHalfPeakGrowth([{ atS: 60, rssBytes: MB }, { atS: 80, rssBytes: undefined }], 100)).toBeUndefined();
    expect(secondHalfPeakGrowth([{ atS: 60, rssBytes: 100 * MB }, { atS: 74.9, rssBytes: 110 * MB }, { atS: 75, rssBytes: 121 * MB }], 100)).toBeCloseTo(0.1, 10);
  });
});

describe('bench profiles', () => {
  // root -> handle (self 300 µs) -> verify (self 600 µs); root -> (idle) 900 µs; time of a sample = next delta.
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, children: [2, 4] },
      { id: 2, callFrame: { functionName: 'handle', url: 'file:///x/dist/src/proxy/h.js', lineNumber: 0 }, children: [3] },
      { id: 3, callFrame: { functionName: 'verify', url: 'file:///x/node_modules/jose/dist/v.js', lineNumber: 9 } },
      { id: 4, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
    ],
    samples: [2, 3, 3, 4, 4, 4],
    timeDeltas: [0, 300, 300, 300, 300, 300, 300],
  };

  it('side-by-side-columns-are-busy-microseconds-per-request', () => {
    const summary = summarizeProfile(profile);
    expect(summary.busyMs).toBeCloseTo(0.9, 5);
    const text = formatSideBySide([
      { name: 'ours', summary, requests: 3 },
      { name: 'floor', summary, requests: 9 },
    ]);
    const busy = text.split('\n').find((l) => l.includes('busy, all areas'))!;
    // 900 µs over 3 requests, and over 9.
    expect(busy.trim().split(/\s+/).slice(-2)).toEqual(['300.0', '100.0']);
    const jose = text.split('\n').find((l) => l.startsWith('  jose'))!;
    expect(jose.trim().split(/\s+/).slice(-2)).toEqual(['200.0', '66.7']);
  });

  it('flame-graph-widths-are-shares-of-busy-time-without-idle', () => {
    const svg = flameGraphSvg(profile, 'test');
    // 1600 px for 900 µs busy: handle (inclusive 900 µs) is the full width, verify two thirds.
    expect(svg).toMatch(/<title>handle [^<]*\(0\.9 ms, 100\.00%\)<\/title><rect x="0\.0" y="32" width="1600\.0"/);
    expect(svg).toMatch(/<title>verify [^<]*\(0\.6 ms, 66\.67%\)<\/title><rect x="0\.0" y="48" width="1066\.7"/);
    expect(svg).not.toContain('(idle)');
  });
});
