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

  describe('percentileCensored (Kaplan–Meier)', () => {
    const histograms = (exact: number[], censored: number[]) => {
      const a = new LatencyHistogram();
      const c = new LatencyHistogram();
      for (const value of exact) a.record(value);
      for (const value of censored) c.record(value);
      return [a, c] as const;
    };

    it('counts a censored value as "longer than t": the product-limit estimate, worked by hand', () => {
      // 10, 20, 30, 40 exact; 15+, 25+, 35+ censored. At risk 7, 5, 3, 1 at the exact values:
      // F(10) = 1/7 = 0.143, F(20) = 1 − 6/7 × 4/5 = 0.314, F(30) = 1 − 24/35 × 2/3 = 0.543, F(40) = 1.
      const [exact, censored] = histograms([10, 20, 30, 40], [15, 25, 35]);
      expect([0, 14, 15, 31, 32, 50, 54, 55, 95, 100].map((p) => exact.percentileCensored(p, censored))).toEqual([
        10, 10, 20, 20, 30, 30, 30, 40, 40, 40,
      ]);
      // Dropping the censored values reads low: their median is 20, not 30.
      expect(exact.percentile(50)).toBe(20);
    });

    it('is the nearest-rank percentile when nothing is censored', () => {
      const [exact, censored] = histograms(
        Array.from({ length: 37 }, (_, i) => (i * 7919) % 3001),
        [],
      );
      for (const p of [0, 1, 33.3, 50, 90, 95, 99, 100]) expect(exact.percentileCensored(p, censored)).toBe(exact.percentile(p));
    });

    it('counts a censored value tied with an exact one as still at risk there', () => {
      // 10 exact, 10+ censored, 20 exact: F(10) = 1/3, F(20) = 1.
      const [exact, censored] = histograms([10, 20], [10]);
      expect(exact.percentileCensored(33, censored)).toBe(10);
      expect(exact.percentileCensored(34, censored)).toBe(20);
    });

    it('returns the largest value, a lower bound, when too much is censored past the last exact value', () => {
      // F never passes 1/2: half the mass is somewhere beyond 40.
      const [exact, censored] = histograms([10, 20], [30, 40]);
      expect(exact.percentileCensored(50, censored)).toBe(20);
      expect(exact.percentileCensored(95, censored)).toBe(40);
    });

    it('has nothing to say without exact values', () => {
      const [exact, censored] = histograms([], [10]);
      expect(exact.percentileCensored(50, censored)).toBeUndefined();
    });
  });
});
