import { compareSnapshots } from '../../src/metrics/compareSnapshots';
import { LatencyRegistry, type RegistrySnapshot } from '../../src/metrics/LatencyRegistry';

/** A snapshot where step `name` had TTFTs `ttfts` and totals of ttft + 500. */
function snapshotOf(steps: Record<string, number[]>): RegistrySnapshot {
  const registry = new LatencyRegistry({ scheduler: { now: () => 0 } as never });
  for (const [step, ttfts] of Object.entries(steps)) {
    for (const ttft of ttfts) {
      registry.record({ step, model: 'm', start: 0, firstToken: ttft, end: ttft + 500, outcome: 'ok', outputTokens: 1, outputTokensFrom: 'usage', finishReasons: [] });
    }
  }
  return registry.snapshot();
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('compareSnapshots', () => {
  // 100 requests each; in `after`, summary's slowest 5 % got three times slower.
  const before = snapshotOf({ summary: range(101, 200), keywords: range(51, 150) });
  const slowTail = range(101, 200).map((ttft, i) => (i >= 94 ? ttft * 3 : ttft));
  const after = snapshotOf({ summary: slowTail, keywords: range(51, 150) });

  it('flags a step whose p95 or p99 grew beyond the threshold, and only that', () => {
    const result = compareSnapshots(before, after);
    expect(result.ok).toBe(false);
    expect(result.regressions.map((r) => `${r.name} ${r.metric} ${r.percentile}`)).toEqual([
      'summary ttft p95',
      'summary ttft p99',
      'summary total p95',
      'summary total p99',
    ]);
    expect(result.regressions[0]).toMatchObject({ before: 195, after: 585, change: 2 });
    // Totals are TTFT + 500: p95 went from 695 to 1085 ms.
    expect(result.regressions[2]).toMatchObject({ before: 695, after: 1085 });
    expect(result.checks).toHaveLength(8);
    expect(result.text.split('\n').at(-1)).toBe(
      '4 latency regressions in 8 checks (threshold +10.0%): summary ttft p95 +200.0%, summary ttft p99 +200.0%, summary total p95 +56.1%, summary total p99 +56.9%.',
    );
    expect(result.text).toMatch(/^keywords +ttft p95 +145ms +145ms +\+0\.0% +ok$/m);
  });

  it('passes when growth stays within the threshold or the absolute allowance', () => {
    expect(compareSnapshots(before, before).ok).toBe(true);
    expect(compareSnapshots(before, after, { threshold: 2.5 }).ok).toBe(true);
    expect(compareSnapshots(before, after, { minIncreaseMs: 400 }).ok).toBe(true);
    expect(compareSnapshots(before, after, { percentiles: ['p50'] }).ok).toBe(true);
    expect(compareSnapshots(before, after).text).not.toMatch(/^No latency regression/m);
    expect(compareSnapshots(before, before).text.split('\n').at(-1)).toBe('No latency regression in 8 checks (threshold +10.0%).');
  });

  it('skips steps on one side only or with too few requests', () => {
    const later = snapshotOf({ summary: range(101, 200), fresh: [10] });
    const result = compareSnapshots(before, later, { minCount: 2 });
    expect(result.skipped).toEqual([
      { name: 'fresh', reason: 'only-after' },
      { name: 'keywords', reason: 'only-before' },
    ]);
    expect(compareSnapshots(snapshotOf({ a: [1] }), snapshotOf({ a: [100] }), { minCount: 5 }).skipped).toEqual([
      { name: 'a', reason: 'too-few-requests' },
    ]);
  });

  it('survives a JSON round trip of the baseline', () => {
    const saved = JSON.parse(JSON.stringify(before)) as RegistrySnapshot;
    expect(compareSnapshots(saved, after).regressions).toHaveLength(4);
  });
});
