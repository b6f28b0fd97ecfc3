/*
 * HdrCounts against hdr-histogram-js (a devDependency now, kept for this comparison): the same
 * values recorded in both give the same percentiles, index layout and equivalence ranges.
 */
import * as int32Module from 'hdr-histogram-js/dist/Int32Histogram.js';
import { HdrCounts } from '../../src/metrics/HdrCounts';

type Int32HistogramClass = typeof int32Module.default;
const imported = int32Module.default as Int32HistogramClass | { default: Int32HistogramClass };
const Int32Histogram: Int32HistogramClass = 'default' in imported ? imported.default : imported;

function reference(digits: number) {
  const hdr = new Int32Histogram(1, 2, digits);
  hdr.autoResize = true;
  return hdr;
}

/** A seeded generator (mulberry32), so a failure reproduces. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PERCENTILES = [0, 0.1, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 100];

describe('HdrCounts (the HdrHistogram LatencyHistogram is built on)', () => {
  it.each([1, 2, 3, 4, 5])('gives the percentiles hdr-histogram-js gives, at %i significant digits', (digits) => {
    const next = random(digits);
    const ours = new HdrCounts(digits);
    const theirs = reference(digits);
    for (let i = 0; i < 5_000; i++) {
      // Heavy-tailed latencies from 0 to ~10^7, and some exact small values.
      const value = i % 7 === 0 ? Math.floor(next() * 50) : Math.round(Math.exp(next() * 16));
      ours.recordValue(value);
      theirs.recordValue(value);
    }
    expect(ours.totalCount).toBe(theirs.totalCount);
    for (const p of PERCENTILES) expect([p, ours.getValueAtPercentile(p)]).toEqual([p, theirs.getValueAtPercentile(p)]);
    expect(ours.countsArrayLength).toBe(theirs.countsArrayLength);
    for (let i = 0; i < ours.countsArrayLength; i += 97) {
      expect(ours.getCountAtIndex(i)).toBe(theirs.getCountAtIndex(i));
      const value = ours.valueFromIndex(i);
      expect(value).toBe(theirs.valueFromIndex(i));
      expect([ours.lowestEquivalentValue(value + 1), ours.highestEquivalentValue(value + 1)]).toEqual([
        theirs.lowestEquivalentValue(value + 1),
        theirs.highestEquivalentValue(value + 1),
      ]);
    }
  });

  it('adds and subtracts like hdr-histogram-js, across different ranges', () => {
    const next = random(7);
    const [a, b] = [new HdrCounts(3), new HdrCounts(3)];
    const [ra, rb] = [reference(3), reference(3)];
    for (let i = 0; i < 1_000; i++) {
      const small = Math.floor(next() * 3_000);
      const large = Math.round(next() * 1e6);
      a.recordValue(small);
      ra.recordValue(small);
      b.recordValue(large);
      rb.recordValue(large);
    }
    a.add(b);
    ra.add(rb);
    for (const p of PERCENTILES) expect(a.getValueAtPercentile(p)).toBe(ra.getValueAtPercentile(p));
    a.subtract(b);
    ra.subtract(rb);
    expect(a.totalCount).toBe(1_000);
    for (const p of PERCENTILES) expect(a.getValueAtPercentile(p)).toBe(ra.getValueAtPercentile(p));
    a.reset();
    expect([a.totalCount, a.getValueAtPercentile(50)]).toEqual([0, 0]);
  });
});
