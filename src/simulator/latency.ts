import type { Rng } from './prng.js';

/** Milliseconds (or a count): a fixed value, or a lognormal given its median and 95th percentile. */
export type SimulatorDistribution = number | {
  /** The median. */
  median: number;
  /** The 95th percentile (sets the spread). */
  p95: number;
};

/** A heavy tail: with `probability`, a sampled time to first token is multiplied by `multiplier`. */
export interface SimulatorTail {
  /** The chance, 0 to 1, that a request's time to first token falls in the tail. */
  probability: number;
  /** How many times slower a tail request's first token is. */
  multiplier: number;
}

/** Draws one value (a time in ms) from a distribution. */
export type Sampler = (rng: Rng) => number;

const Z95 = 1.6448536269514722;

/**
 * A sampler whose whole distribution, tail included, has the stated median and
 * p95. The lognormal body is solved for so that mixing in the tail leaves both
 * figures where the profile says (exact while the tail probability is under 5 %;
 * above that the body is fitted without the tail, and p95 lands higher).
 * Every draw uses two random numbers, so sequences stay aligned whatever the outcome.
 */
export function tailedSampler(distribution: SimulatorDistribution, tail: SimulatorTail | undefined): Sampler {
  const probability = tail?.probability ?? 0;
  const multiplier = tail?.multiplier ?? 1;
  const body = bodySampler(distribution, probability, multiplier);
  return (rng) => {
    const value = body(rng);
    return rng.next() < probability ? value * multiplier : value;
  };
}

/** A sampler with no tail (answer lengths). */
export function plainSampler(distribution: SimulatorDistribution): Sampler {
  return bodySampler(distribution, 0, 1);
}

/**
 * The q-quantile of the distribution a {@link tailedSampler} draws from, for
 * checking measurements against a profile.
 */
export function distributionQuantile(distribution: SimulatorDistribution, tail: SimulatorTail | undefined, q: number): number {
  const probability = tail?.probability ?? 0;
  const multiplier = tail?.multiplier ?? 1;
  if (typeof distribution === 'number') {
    // A fixed body with a tail is a two-point distribution.
    return q <= 1 - probability ? distribution : distribution * multiplier;
  }
  const { mu, sigma } = fitBody(distribution.median, distribution.p95, probability, multiplier);
  const cdf = (x: number) => mixtureCdf(Math.log(x), mu, sigma, probability, Math.log(multiplier));
  let lo = 0;
  let hi = distribution.p95 * multiplier * 100;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (cdf(mid) < q) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

function bodySampler(distribution: SimulatorDistribution, probability: number, multiplier: number): Sampler {
  if (typeof distribution === 'number') {
    return (rng) => {
      rng.next(); // keep two draws per sample, like the lognormal case
      return distribution;
    };
  }
  const { mu, sigma } = fitBody(distribution.median, distribution.p95, probability, multiplier);
  return (rng) => Math.exp(mu + sigma * rng.normal());
}

const fitCache = new Map<string, { mu: number; sigma: number }>();

/** The lognormal body (mu, sigma of the log) that gives the mixture its median and p95. */
function fitBody(median: number, p95: number, probability: number, multiplier: number): { mu: number; sigma: number } {
  const key = `${median}/${p95}/${probability}/${multiplier}`;
  const cached = fitCache.get(key);
  if (cached) return cached;
  const plain = { mu: Math.log(median), sigma: Math.log(p95 / median) / Z95 };
  let fit = plain;
  if (probability > 0 && multiplier > 1 && p95 > median) {
    const logK = Math.log(multiplier);
    const a = Math.log(median);
    const b = Math.log(p95);
    const muFor = (sigma: number): number => {
      // The mixture's CDF at the median falls as mu grows: bisect for CDF = 0.5.
      let lo = a - logK - 10;
      let hi = a + 10;
      for (let i = 0; i < 80; i++) {
        const mid = (lo + hi) / 2;
        if (mixtureCdf(a, mid, sigma, probability, logK) > 0.5) lo = mid;
        else hi = mid;
      }
      return (lo + hi) / 2;
    };
    const excess = (sigma: number): number => mixtureCdf(b, muFor(sigma), sigma, probability, logK) - 0.95;
    let lo = 1e-6;
    let hi = 5;
    if (excess(lo) > 0 && excess(hi) < 0) {
      for (let i = 0; i < 80; i++) {
        const mid = (lo + hi) / 2;
        if (excess(mid) > 0) lo = mid;
        else hi = mid;
      }
      const sigma = (lo + hi) / 2;
      fit = { mu: muFor(sigma), sigma };
    }
  }
  if (fitCache.size > 1000) fitCache.clear(); // per-request overrides could otherwise grow it without bound
  fitCache.set(key, fit);
  return fit;
}

function mixtureCdf(logX: number, mu: number, sigma: number, probability: number, logMultiplier: number): number {
  const body = normalCdf((logX - mu) / sigma);
  const tail = normalCdf((logX - logMultiplier - mu) / sigma);
  return (1 - probability) * body + probability * tail;
}

/** Standard normal CDF (Abramowitz & Stegun 7.1.26; error below 1.5e-7). */
function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-x * x);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}
