// hdr-histogram-js's 32-bit class (not its index, which also loads WebAssembly, pako and the encoders). In
// CommonJS it loads when the first histogram is built, not at `require('rxllm')`: limit() and rateLimit() keep a
// histogram per lane, but build none at import. See int32HistogramClass.ts.
import { int32HistogramClass, type Int32HistogramClass } from '../internal/int32HistogramClass.js';

/** Summary statistics of one distribution (milliseconds for times, tokens per second for speeds). */
export interface Distribution {
  /** How many values were recorded. */
  count: number;
  /** The exact arithmetic mean. */
  mean: number;
  /** The smallest value recorded. */
  min: number;
  /** The median (nearest rank). */
  p50: number;
  /** The 95th percentile (nearest rank). */
  p95: number;
  /** The 99th percentile (nearest rank). */
  p99: number;
  /** The largest value recorded. */
  max: number;
}

/** Options of a {@link LatencyHistogram}. */
export interface LatencyHistogramConfig {
  /**
   * Significant decimal digits kept for every value (HdrHistogram's precision), 1 to 5.
   * With 3, a value is kept to within 0.1 % and memory is about 8–30 KB per histogram.
   * @defaultValue 3
   */
  significantDigits?: 1 | 2 | 3 | 4 | 5;
  /**
   * Values are stored as whole multiples of `1 / scale`: 1 keeps whole milliseconds, 10 keeps
   * tenths (used for tokens per second). At 3 digits, values below `2048 / scale` are exact.
   * @defaultValue 1
   */
  scale?: number;
}

/**
 * A histogram of non-negative values (latencies in milliseconds, by default) with percentiles,
 * backed by HdrHistogram (`hdr-histogram-js`, its pure-JavaScript 32-bit histograms: its
 * WebAssembly variant is never instantiated, so nothing async or platform-specific is involved).
 *
 * Precision, with the default 3 significant digits and scale 1:
 * - values are rounded to whole milliseconds, then every value below 2,048 ms is kept exactly;
 *   a larger value is kept to within 0.1 % (10,000 ms reads back as 10,000–10,007 ms);
 * - percentiles are nearest-rank: p95 of 100 values is the 95th smallest (as HdrHistogram defines
 *   it, returning the highest value equivalent to it at that precision);
 * - `mean` is exact (a running sum, not reconstructed from buckets);
 * - the range grows as needed (no upper limit is configured), so no value is ever rejected.
 *
 * Not an Observable and not tied to a scheduler: a plain, synchronous data structure.
 *
 * @example
 * ```ts
 * const ttft = new LatencyHistogram();
 * for (const ms of [120, 180, 95, 2400]) ttft.record(ms);
 * ttft.percentile(50); // 120
 * ttft.summary();      // { count: 4, mean: 698.75, min: 95, p50: 120, p95: 2401, p99: 2401, max: 2401 }
 * ```
 */
export class LatencyHistogram {
  private readonly hdr: Int32Histogram;
  private readonly scale: number;
  private sum = 0;

  constructor(config: LatencyHistogramConfig = {}) {
    this.scale = config.scale ?? 1;
    // 32-bit counts, growing on demand: the pure-JS build, about 4 KB per power of two of range.
    // The packed variant is smaller but a percentile costs milliseconds, too slow for per-request reads.
    // What hdr-histogram-js's build({ bitBucketSize: 32, autoResize: true }) does, without its index.
    const Int32Histogram = int32HistogramClass();
    const hdr = new Int32Histogram(1, 2, config.significantDigits ?? 3);
    hdr.autoResize = true;
    this.hdr = hdr;
  }

  /** How many values were recorded. */
  get count(): number {
    return this.hdr.totalCount;
  }

  /** Records one value. Negative values count as 0; NaN and infinities are ignored. */
  record(value: number): void {
    if (!Number.isFinite(value)) return;
    const stored = Math.round(Math.max(0, value) * this.scale);
    this.hdr.recordValue(stored);
    this.sum += stored;
  }

  /**
   * The value at a percentile (0–100), nearest-rank; `undefined` when nothing was recorded.
   * `percentile(0)` is the minimum and `percentile(100)` the maximum.
   */
  percentile(p: number): number | undefined {
    if (this.hdr.totalCount === 0) return undefined;
    return this.hdr.getValueAtPercentile(Math.min(100, Math.max(0, p))) / this.scale;
  }

  /**
   * The value at a percentile (0–100) of a distribution of which this histogram holds the exact
   * values and `censored` holds right-censored ones: a censored value `t` says "longer than `t`"
   * (a request cancelled at `t` before its first token). `undefined` when this histogram is empty.
   *
   * The estimate is Kaplan–Meier's product-limit estimate of the distribution function,
   * `F(t) = 1 − ∏ (1 − dᵢ / nᵢ)` over the distinct values `tᵢ ≤ t`, where `dᵢ` exact values sit at
   * `tᵢ` and `nᵢ` values (exact or censored) are `≥ tᵢ`, still "at risk"; a censored value at the same
   * value as an exact one counts as at risk there (it is known to be longer). The percentile is the
   * smallest value whose `F` reaches `p %`; with nothing censored, `F` is the share of values up to
   * `t`, and this is the nearest-rank percentile of {@link percentile}, value for value. It is unbiased under independent censoring, which is what a hedged request is:
   * the loser is cancelled when the other attempt's first token arrives, a time that does not depend
   * on the loser's own latency. Simply dropping the censored values (what {@link percentile} of the
   * exact values alone does) loses the longest values and reads percentiles low; counting them as
   * exact values at `t` reads them low too, though less.
   *
   * When more than `100 − p` % of the estimate's mass lies beyond the last exact value (too much
   * censored in the tail to place the percentile), the largest value of either kind is returned:
   * a lower bound, the only thing known.
   */
  percentileCensored(p: number, censored: LatencyHistogram): number | undefined {
    const exact = this.hdr;
    if (exact.totalCount === 0) return undefined;
    const cut = censored.hdr;
    if (cut.totalCount === 0) return this.percentile(p);
    const clamped = Math.min(100, Math.max(0, p));
    // The epsilon absorbs floating-point error in the product (0.95 must reach 95 %).
    const target = clamped / 100 - 1e-12;
    const length = Math.max(exact.countsArrayLength, cut.countsArrayLength);
    let atRisk = exact.totalCount + cut.totalCount;
    let survival = 1;
    let largest = 0;
    for (let i = 0; i < length && atRisk > 0; i++) {
      const events = i < exact.countsArrayLength ? exact.getCountAtIndex(i) : 0;
      const lost = i < cut.countsArrayLength ? cut.getCountAtIndex(i) : 0;
      if (events === 0 && lost === 0) continue;
      const value = exact.highestEquivalentValue(exact.valueFromIndex(i));
      largest = value;
      if (events > 0) {
        survival *= 1 - events / atRisk;
        if (1 - survival >= target) return (clamped === 0 ? exact.lowestEquivalentValue(value) : value) / this.scale;
      }
      atRisk -= events + lost;
    }
    return largest / this.scale;
  }

  /** The exact mean; `undefined` when nothing was recorded. */
  mean(): number | undefined {
    return this.hdr.totalCount === 0 ? undefined : this.sum / this.hdr.totalCount / this.scale;
  }

  /** The exact sum of the recorded values (after rounding to the scale). */
  total(): number {
    return this.sum / this.scale;
  }

  /** Count, mean, min, p50, p95, p99 and max; `undefined` when nothing was recorded. */
  summary(): Distribution | undefined {
    const count = this.hdr.totalCount;
    if (count === 0) return undefined;
    const at = (p: number) => this.hdr.getValueAtPercentile(p) / this.scale;
    return { count, mean: this.sum / count / this.scale, min: at(0), p50: at(50), p95: at(95), p99: at(99), max: at(100) };
  }

  /** Adds every value of another histogram (of the same scale) to this one. */
  add(other: LatencyHistogram): void {
    this.hdr.add(other.hdr);
    this.sum += other.sum;
  }

  /** Removes every value of another histogram, which must hold a subset of this one's values. */
  subtract(other: LatencyHistogram): void {
    if (other.hdr.totalCount === 0) return;
    this.hdr.subtract(other.hdr);
    this.sum -= other.sum;
  }

  /** Forgets every value. */
  reset(): void {
    this.hdr.reset();
    this.sum = 0;
  }

  /**
   * The HdrHistogram inside, for rxllm/redis's codec: encoding loads pako and the encoders, which only the
   * Redis entry point should pay for, so the codec lives there and reaches the counts through this.
   * Mutating it skips `sum` (the mean); adding counts through it is what decoding does.
   * @internal
   */
  static hdrOf(histogram: LatencyHistogram): Int32Histogram {
    return histogram.hdr;
  }
}

type Int32Histogram = InstanceType<Int32HistogramClass>;
