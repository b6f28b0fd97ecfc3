import type { LatencyHistogramConfig } from './LatencyHistogram.js';
import { type LatencyRecord, ttftOf } from './LatencyRecord.js';
import { StatsAccumulator } from './LatencyStats.js';

/** A sliding window, normalised: by time (`ms`) or by request count (`requests`), in `slices` slices. */
export type WindowPolicy =
  | { kind: 'time'; ms: number; slices: number }
  | { kind: 'count'; requests: number; slices: number };

/** Prometheus bucket bounds in milliseconds (upper bounds, ascending). */
export interface BucketBounds {
  ttft: readonly number[];
  total: readonly number[];
}

/**
 * The statistics of one (step, model) pair: all time, and a sliding window. Internal to the registry.
 *
 * The window is kept as a running sum of its slices: a record goes into the current slice and into
 * the window; when a slice expires it is subtracted from the window and reused. A read is then one
 * histogram lookup, however long the window, which is what per-request readers (hedging, routing)
 * need; the price is one subtraction per slice expiry.
 */
export class LatencySeries {
  readonly all: StatsAccumulator;
  readonly window: StatsAccumulator;
  /** Non-cumulative counts per Prometheus bucket (the last one is +Inf), all time. */
  readonly ttftBuckets: number[];
  readonly totalBuckets: number[];
  private readonly slices: (StatsAccumulator | undefined)[];
  private current = 0;
  /** For a time window: the number of the current slice (`floor(now / sliceMs)`). */
  private sliceNumber: number;

  constructor(
    readonly step: string,
    readonly model: string,
    private readonly policy: WindowPolicy,
    private readonly histogramConfig: LatencyHistogramConfig,
    private readonly bounds: BucketBounds,
    now: number,
  ) {
    this.all = new StatsAccumulator(histogramConfig);
    this.window = new StatsAccumulator(histogramConfig);
    // Slices are created on first use: an idle series costs two accumulators, not eight.
    this.slices = new Array<StatsAccumulator | undefined>(policy.slices).fill(undefined);
    this.ttftBuckets = new Array<number>(bounds.ttft.length + 1).fill(0);
    this.totalBuckets = new Array<number>(bounds.total.length + 1).fill(0);
    this.sliceNumber = this.sliceNumberAt(now);
  }

  record(record: LatencyRecord, now: number): void {
    this.advance(now);
    if (this.policy.kind === 'count') {
      const capacity = Math.ceil(this.policy.requests / this.policy.slices);
      if ((this.slices[this.current]?.requests ?? 0) >= capacity) this.rotate(1);
    }
    const slice = (this.slices[this.current] ??= new StatsAccumulator(this.histogramConfig));
    slice.record(record);
    this.window.record(record);
    this.all.record(record);

    const ttft = ttftOf(record);
    if (ttft !== undefined) this.ttftBuckets[bucketIndex(this.bounds.ttft, ttft)]!++;
    if (record.outcome === 'ok') this.totalBuckets[bucketIndex(this.bounds.total, record.end - record.start)]!++;
  }

  /** Expires the slices of a time window that are older than `now` allows. Count windows move only on record. */
  advance(now: number): void {
    if (this.policy.kind !== 'time') return;
    const number = this.sliceNumberAt(now);
    // A clock that goes backwards (it should not) leaves the window as it is.
    if (number <= this.sliceNumber) return;
    this.rotate(number - this.sliceNumber);
    this.sliceNumber = number;
  }

  private rotate(steps: number): void {
    if (steps >= this.policy.slices) {
      // Everything expired: clearing is cheaper than subtracting slice by slice.
      this.window.reset();
      for (const slice of this.slices) slice?.reset();
      this.current = (this.current + steps) % this.policy.slices;
      return;
    }
    for (let i = 0; i < steps; i++) {
      this.current = (this.current + 1) % this.policy.slices;
      const expired = this.slices[this.current];
      if (expired && expired.requests > 0) {
        this.window.subtract(expired);
        expired.reset();
      }
    }
  }

  private sliceNumberAt(now: number): number {
    return this.policy.kind === 'time' ? Math.floor(now / (this.policy.ms / this.policy.slices)) : 0;
  }
}

function bucketIndex(bounds: readonly number[], value: number): number {
  let index = 0;
  while (index < bounds.length && value > bounds[index]!) index++;
  return index;
}
