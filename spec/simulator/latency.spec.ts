import { distributionQuantile, plainSampler, tailedSampler } from '../../src/simulator/latency';
import { createRng } from '../../src/simulator/prng';
import { defaultSimulatorProfiles } from '../../src/simulator/profiles';

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

describe('tailedSampler', () => {
  it.each(Object.entries(defaultSimulatorProfiles))('draws %s TTFTs whose median and p95, tail included, match the profile', (_name, profile) => {
    if (typeof profile.ttftMs === 'number') throw new Error('expected a lognormal profile');
    const sample = tailedSampler(profile.ttftMs, profile.tail);
    const rng = createRng('latency-spec');
    const values = Array.from({ length: 40000 }, () => sample(rng));
    expect(quantile(values, 0.5) / profile.ttftMs.median).toBeCloseTo(1, 1);
    expect(Math.abs(quantile(values, 0.5) / profile.ttftMs.median - 1)).toBeLessThan(0.02);
    expect(Math.abs(quantile(values, 0.95) / profile.ttftMs.p95 - 1)).toBeLessThan(0.03);
  });

  it('puts the tail above p95: p99 of a tailed profile is well beyond its untailed twin', () => {
    const ttft = { median: 500, p95: 900 };
    const tailed = distributionQuantile(ttft, { probability: 0.03, multiplier: 4 }, 0.99);
    const plain = distributionQuantile(ttft, undefined, 0.99);
    expect(tailed).toBeGreaterThan(plain * 1.5);
    expect(distributionQuantile(ttft, { probability: 0.03, multiplier: 4 }, 0.5)).toBeCloseTo(500, 0);
    expect(distributionQuantile(ttft, { probability: 0.03, multiplier: 4 }, 0.95)).toBeCloseTo(900, 0);
  });

  it('keeps a fixed value fixed, except for tail draws', () => {
    const rng = createRng(1);
    expect(Array.from({ length: 10 }, () => tailedSampler(300, undefined)(rng))).toEqual(Array(10).fill(300));
    expect(tailedSampler(300, { probability: 1, multiplier: 3 })(rng)).toBe(900);
    expect(distributionQuantile(300, { probability: 0.1, multiplier: 2 }, 0.5)).toBe(300);
    expect(distributionQuantile(300, { probability: 0.1, multiplier: 2 }, 0.95)).toBe(600);
  });

  it('still samples (p95 lands higher) when the tail is too heavy to fit', () => {
    const sample = tailedSampler({ median: 100, p95: 150 }, { probability: 0.2, multiplier: 5 });
    const rng = createRng(2);
    const values = Array.from({ length: 2000 }, () => sample(rng));
    expect(values.every((v) => Number.isFinite(v) && v > 0)).toBe(true);
    expect(quantile(values, 0.95)).toBeGreaterThan(150);
  });
});

describe('plainSampler', () => {
  it('draws lengths around the median', () => {
    const rng = createRng(3);
    const values = Array.from({ length: 20000 }, () => plainSampler({ median: 120, p95: 350 })(rng));
    expect(Math.abs(quantile(values, 0.5) / 120 - 1)).toBeLessThan(0.03);
  });
});
