import { LatencyHistogram } from '../../src/metrics/LatencyHistogram';

describe('LatencyHistogram', () => {
  it('gives nearest-rank percentiles, exactly, for values below 2,048', () => {
    const histogram = new LatencyHistogram();
    // 1..1000 shuffled: the order of recording must not matter.
    for (let i = 0; i < 1000; i++) histogram.record(((i * 7919) % 1000) + 1);
    expect(histogram.summary()).toEqual({ count: 1000, mean: 500.5, min: 1, p50: 500, p95: 950, p99: 990, max: 1000 });
    expect(histogram.percentile(99.9)).toBe(999);
    expect(histogram.percentile(0)).toBe(1);
    expect(histogram.percentile(100)).toBe(1000);
  });

  it('keeps larger values to within 0.1 % at 3 significant digits, with an exact mean', () => {
    const histogram = new LatencyHistogram();
    const values = [2400, 10_000, 65_432, 3_600_000];
    for (const value of values) histogram.record(value);
    for (const [p, value] of [[25, 2400], [50, 10_000], [75, 65_432], [100, 3_600_000]] as const) {
      const read = histogram.percentile(p)!;
      expect(read).toBeGreaterThanOrEqual(value);
      expect((read - value) / value).toBeLessThanOrEqual(0.001);
    }
    // HdrHistogram reports the highest value equivalent at its precision: 2,400 shares a 2-wide bucket.
    expect(histogram.percentile(25)).toBe(2401);
    expect(histogram.mean()).toBe(values.reduce((a, b) => a + b) / values.length);
  });

  it('keeps the precision it is asked for', () => {
    const coarse = new LatencyHistogram({ significantDigits: 1 });
    const fine = new LatencyHistogram({ significantDigits: 5 });
    for (const histogram of [coarse, fine]) histogram.record(12_345);
    expect(Math.abs(coarse.percentile(50)! - 12_345) / 12_345).toBeGreaterThan(0.001);
    expect(Math.abs(fine.percentile(50)! - 12_345) / 12_345).toBeLessThanOrEqual(0.00001);
  });

  it('rounds to its scale: tenths with scale 10', () => {
    const histogram = new LatencyHistogram({ scale: 10 });
    for (const value of [12.34, 45.67, 8]) histogram.record(value);
    expect(histogram.summary()).toMatchObject({ min: 8, p50: 12.3, max: 45.7 });
    expect(histogram.total()).toBeCloseTo(66, 10);
  });

  it('rounds fractional milliseconds, counts negatives as 0 and ignores NaN and infinities', () => {
    const histogram = new LatencyHistogram();
    for (const value of [1.4, 1.6, -5, Number.NaN, Number.POSITIVE_INFINITY]) histogram.record(value);
    expect(histogram.count).toBe(3);
    expect(histogram.summary()).toMatchObject({ min: 0, p50: 1, max: 2 });
  });

  it('has nothing to say when empty', () => {
    const histogram = new LatencyHistogram();
    expect(histogram.summary()).toBeUndefined();
    expect(histogram.percentile(50)).toBeUndefined();
    expect(histogram.mean()).toBeUndefined();
  });

  it('adds and subtracts another histogram', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    for (const value of [10, 20, 30]) a.record(value);
    for (const value of [40, 50_000]) b.record(value);
    a.add(b);
    expect(a.summary()).toMatchObject({ count: 5, min: 10, p50: 30 });
    a.subtract(b);
    expect(a.summary()).toEqual({ count: 3, mean: 20, min: 10, p50: 20, p95: 30, p99: 30, max: 30 });
    a.reset();
    expect(a.count).toBe(0);
  });
});
