import type { Histogram } from 'hdr-histogram-js';
// The 32-bit class alone, not the package index: the index also loads the WebAssembly build (a base64
// blob), pako and the log encoders, about 60 ms and 16 MB that every `require('rxllm')` paid through
// limit(), which keeps a histogram per lane. The package has no `exports` map, so this path is public.
import * as int32Module from 'hdr-histogram-js/dist/Int32Histogram.js';

/** Summary statistics of one distribution (milliseconds for times, tokens per second for speeds). */
export interface Distribution {
  /** How many values were recorded. */
  count: number;
  /** The exact arithmetic mean. */
  mean: number;
  min: number;
  p50: number;
  p95: number;
  p99: number;
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
  private readonly hdr: Histogram;
  private readonly scale: number;
  private sum = 0;

  constructor(config: LatencyHistogramConfig = {}) {
    this.scale = config.scale ?? 1;
    // 32-bit counts, growing on demand: the pure-JS build, about 4 KB per power of two of range.
    // The packed variant is smaller but a percentile costs milliseconds, too slow for per-request reads.
    // What hdr-histogram-js's build({ bitBucketSize: 32, autoResize: true }) does, without its index.
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
}

// The module is CommonJS with `exports.default = Int32Histogram`. TypeScript's CommonJS output and
// bundlers hand over the class as the namespace's `default`; Node's ES module loader hands over
// `module.exports`, whose `default` is the class. Either way, the class.
type Int32HistogramClass = typeof int32Module.default;
const imported = int32Module.default as Int32HistogramClass | { default: Int32HistogramClass };
const Int32Histogram: Int32HistogramClass = 'default' in imported ? imported.default : imported;
