/**
 * The counts of an HdrHistogram of non-negative integers (Gil Tene's HdrHistogram, as
 * `hdr-histogram-js` builds it with `lowestDiscernibleValue` 1, 32-bit counts and auto-resize):
 * every value below `2 × 10^digits` rounded up to a power of two (2,048 at 3 digits) has its own
 * count, and each further power of two is split into half as many sub-buckets, so a value is kept
 * to within `10^-digits`. The same index layout, equivalence ranges and nearest-rank percentile
 * as `hdr-histogram-js` (spec/metrics/HdrCounts.spec.ts compares the two value for value).
 *
 * Why not the package: `LatencyHistogram` is what `limit()` keeps per lane, so loading
 * `hdr-histogram-js` cost every `require('rxllm')` ~10 ms and put it in every bundle; these
 * ~100 lines are the part of it rxllm uses.
 * @internal
 */
export class HdrCounts {
  totalCount = 0;
  private counts: Uint32Array;
  private readonly subBucketHalfCountMagnitude: number;
  private readonly subBucketHalfCount: number;
  private readonly subBucketCount: number;

  constructor(significantDigits: number) {
    const largestValueWithSingleUnitResolution = 2 * Math.floor(10 ** significantDigits);
    const subBucketCountMagnitude = Math.ceil(Math.log2(largestValueWithSingleUnitResolution));
    this.subBucketHalfCountMagnitude = Math.max(subBucketCountMagnitude, 1) - 1;
    this.subBucketCount = 2 ** (this.subBucketHalfCountMagnitude + 1);
    this.subBucketHalfCount = this.subBucketCount / 2;
    // One bucket to start with (hdr-histogram-js's highestTrackableValue 2), grown on demand.
    this.counts = new Uint32Array(this.lengthFor(2));
  }

  /** How many counts are held (the index range of {@link getCountAtIndex}). */
  get countsArrayLength(): number {
    return this.counts.length;
  }

  getCountAtIndex(index: number): number {
    return this.counts[index]!;
  }

  /** Adds one to the count of `value` (a non-negative integer), growing the range if needed. */
  recordValue(value: number): void {
    const index = this.indexOf(value);
    if (index >= this.counts.length) this.grow(value);
    this.counts[index]!++;
    this.totalCount++;
  }

  /** The smallest value at the index: the one `valueFromIndex(indexOf(v))` gives for every `v` equivalent to it. */
  valueFromIndex(index: number): number {
    let bucketIndex = Math.floor(index / this.subBucketHalfCount) - 1;
    let subBucketIndex = (index % this.subBucketHalfCount) + this.subBucketHalfCount;
    if (bucketIndex < 0) {
      subBucketIndex -= this.subBucketHalfCount;
      bucketIndex = 0;
    }
    return subBucketIndex * 2 ** bucketIndex;
  }

  lowestEquivalentValue(value: number): number {
    const bucketIndex = this.bucketIndex(value);
    return Math.floor(value / 2 ** bucketIndex) * 2 ** bucketIndex;
  }

  highestEquivalentValue(value: number): number {
    const bucketIndex = this.bucketIndex(value);
    const subBucketIndex = Math.floor(value / 2 ** bucketIndex);
    const size = 2 ** (subBucketIndex >= this.subBucketCount ? bucketIndex + 1 : bucketIndex);
    return subBucketIndex * 2 ** bucketIndex + size - 1;
  }

  /**
   * The value at a percentile (0–100), nearest-rank: the highest value equivalent to the
   * `ceil(p% × count)`-th smallest (the lowest equivalent one for percentile 0); 0 when empty.
   */
  getValueAtPercentile(percentile: number): number {
    const requested = Math.min(percentile, 100);
    const fpCount = (requested / 100) * this.totalCount;
    // Round up, but not past a count that floating-point error put one ulp above an integer.
    const countAtPercentile = Math.max(Math.ceil(fpCount - ulp(fpCount)), 1);
    let total = 0;
    for (let i = 0; i < this.counts.length; i++) {
      total += this.counts[i]!;
      if (total >= countAtPercentile) {
        const value = this.valueFromIndex(i);
        return percentile === 0 ? this.lowestEquivalentValue(value) : this.highestEquivalentValue(value);
      }
    }
    return 0;
  }

  /** Adds every count of `other` (same digits). */
  add(other: HdrCounts): void {
    if (other.counts.length > this.counts.length) this.resizeTo(other.counts.length);
    for (let i = 0; i < other.counts.length; i++) this.counts[i]! += other.counts[i]!;
    this.totalCount += other.totalCount;
  }

  /** Removes every count of `other`, which must be a subset of this one's (same digits). */
  subtract(other: HdrCounts): void {
    if (other.counts.length > this.counts.length) this.resizeTo(other.counts.length);
    for (let i = 0; i < other.counts.length; i++) this.counts[i]! -= other.counts[i]!;
    this.totalCount -= other.totalCount;
  }

  reset(): void {
    this.counts.fill(0);
    this.totalCount = 0;
  }

  private bucketIndex(value: number): number {
    // log2(0) is -Infinity: 0 is in bucket 0 like every small value.
    return Math.max(Math.floor(Math.log2(value)) - this.subBucketHalfCountMagnitude, 0);
  }

  private indexOf(value: number): number {
    const bucketIndex = this.bucketIndex(value);
    const subBucketIndex = Math.floor(value / 2 ** bucketIndex);
    return (bucketIndex + 1) * this.subBucketHalfCount + (subBucketIndex - this.subBucketHalfCount);
  }

  /** The counts length that covers `value`: one half-bucket per power of two above the first bucket, plus the first. */
  private lengthFor(value: number): number {
    let smallestUntrackable = this.subBucketCount;
    let buckets = 1;
    while (smallestUntrackable <= value) {
      if (smallestUntrackable > Number.MAX_SAFE_INTEGER / 2) {
        buckets++;
        break;
      }
      smallestUntrackable *= 2;
      buckets++;
    }
    return (buckets + 1) * this.subBucketHalfCount;
  }

  private grow(value: number): void {
    this.resizeTo(this.lengthFor(value));
  }

  private resizeTo(length: number): void {
    const counts = new Uint32Array(length);
    counts.set(this.counts);
    this.counts = counts;
  }
}

/** The gap between `x` and the next larger double (what `hdr-histogram-js` subtracts before rounding up). */
function ulp(x: number): number {
  return 2 ** (Math.floor(Math.log2(x)) - 52);
}
