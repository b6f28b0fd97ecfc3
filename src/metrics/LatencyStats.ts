import { type Distribution, LatencyHistogram, type LatencyHistogramConfig } from './LatencyHistogram.js';
import { type LatencyRecord, tokensPerSecondOf, ttftOf } from './LatencyRecord.js';

/**
 * What a {@link LatencyRegistry} knows about a set of requests (one step, one model, all time or
 * the sliding window). Plain data: JSON-serialisable, so a snapshot can be saved and compared later.
 *
 * Which requests each distribution covers:
 * - `ttft`: every request that produced a content event, whatever its outcome (a request cancelled
 *   before its first token is counted in `ttftCensored` instead: its time to first token is only
 *   known to be longer than its run time);
 * - `total`: completed (`ok`) requests only, since a failure or a cancellation ends early and
 *   would make a step look fast;
 * - `tokensPerSecond`: completed requests that streamed at least one token over a non-zero time.
 *
 * A distribution is absent when it has no values.
 */
export interface LatencyStats {
  /** Requests that ended, whatever the outcome: `ok + errors + cancelled`. */
  requests: number;
  /** Requests that completed. */
  ok: number;
  /** Requests that errored (by code in `errorCodes`). */
  errors: number;
  /** Requests unsubscribed before they ended (a user who left, a hedging loser). */
  cancelled: number;
  /** Errors by code (`{ timeout: 2, 'rate-limited': 1 }`). */
  errorCodes: Record<string, number>;
  /** Sum of output tokens over all requests. */
  outputTokens: number;
  /** Sum of input (prompt) tokens over requests whose server reported usage. */
  inputTokens: number;
  /** Time to first token, ms, of the requests that produced a first token. */
  ttft?: Distribution;
  /**
   * Requests cancelled before their first token (hedging's losers, a user who left): right-censored
   * times to first token, "longer than t". {@link LatencyRegistry.percentile} of `ttft` accounts for
   * them (a Kaplan–Meier estimate); the `ttft` summary here holds the exact values only. Absent when none.
   */
  ttftCensored?: number;
  /** Total time, ms. */
  total?: Distribution;
  /** Decode speed, output tokens per second after the first token. */
  tokensPerSecond?: Distribution;
}

/** The metrics a {@link LatencyRegistry} keeps histograms of. */
export type LatencyMetric = 'ttft' | 'total' | 'tokensPerSecond';

/**
 * An empty histogram for a metric: whole milliseconds for times (exact below 2,048 ms), tenths for
 * tokens per second (exact below 204.8 tokens/s); within 0.1 % above, at the default precision.
 */
export function emptyHistogram(metric: LatencyMetric, config: LatencyHistogramConfig = {}): LatencyHistogram {
  return new LatencyHistogram({ ...config, scale: metric === 'tokensPerSecond' ? 10 : 1 });
}

/**
 * Counters and histograms for one set of requests. Internal: the registry keeps one for all time,
 * one for the sliding window, and one per window slice; windows move by subtracting expired slices.
 */
export class StatsAccumulator {
  requests = 0;
  ok = 0;
  errors = 0;
  cancelled = 0;
  outputTokens = 0;
  inputTokens = 0;
  readonly errorCodes = new Map<string, number>();
  readonly ttft: LatencyHistogram;
  /** Right-censored times to first token: how long requests cancelled before their first token ran. */
  readonly ttftCensored: LatencyHistogram;
  readonly total: LatencyHistogram;
  readonly tokensPerSecond: LatencyHistogram;

  constructor(config: LatencyHistogramConfig = {}) {
    this.ttft = emptyHistogram('ttft', config);
    this.ttftCensored = emptyHistogram('ttft', config);
    this.total = emptyHistogram('total', config);
    this.tokensPerSecond = emptyHistogram('tokensPerSecond', config);
  }

  histogram(metric: LatencyMetric): LatencyHistogram {
    return this[metric];
  }

  record(record: LatencyRecord): void {
    this.requests++;
    this[record.outcome === 'error' ? 'errors' : record.outcome === 'cancelled' ? 'cancelled' : 'ok']++;
    if (record.outcome === 'error') {
      const code = record.errorCode ?? 'unknown';
      this.errorCodes.set(code, (this.errorCodes.get(code) ?? 0) + 1);
    }
    this.outputTokens += record.outputTokens;
    this.inputTokens += record.inputTokens ?? 0;
    const ttft = ttftOf(record);
    if (ttft !== undefined) this.ttft.record(ttft);
    // Cancelled with no first token: the first token would have come later than the cancellation.
    // (A failure before the first token is not censored: that request would never have produced one.)
    else if (record.outcome === 'cancelled') this.ttftCensored.record(record.end - record.start);
    if (record.outcome === 'ok') this.total.record(record.end - record.start);
    const speed = tokensPerSecondOf(record);
    if (speed !== undefined) this.tokensPerSecond.record(speed);
  }

  add(other: StatsAccumulator): void {
    this.combine(other, 1);
    this.ttft.add(other.ttft);
    this.ttftCensored.add(other.ttftCensored);
    this.total.add(other.total);
    this.tokensPerSecond.add(other.tokensPerSecond);
  }

  subtract(other: StatsAccumulator): void {
    this.combine(other, -1);
    this.ttft.subtract(other.ttft);
    this.ttftCensored.subtract(other.ttftCensored);
    this.total.subtract(other.total);
    this.tokensPerSecond.subtract(other.tokensPerSecond);
  }

  reset(): void {
    this.requests = this.ok = this.errors = this.cancelled = this.outputTokens = this.inputTokens = 0;
    this.errorCodes.clear();
    this.ttft.reset();
    this.ttftCensored.reset();
    this.total.reset();
    this.tokensPerSecond.reset();
  }

  stats(): LatencyStats {
    const stats: LatencyStats = {
      requests: this.requests,
      ok: this.ok,
      errors: this.errors,
      cancelled: this.cancelled,
      errorCodes: Object.fromEntries([...this.errorCodes].sort(([a], [b]) => (a < b ? -1 : 1))),
      outputTokens: this.outputTokens,
      inputTokens: this.inputTokens,
    };
    // Absent rather than undefined, so snapshots compare and serialise cleanly.
    const ttft = this.ttft.summary();
    if (ttft) stats.ttft = ttft;
    if (this.ttftCensored.count > 0) stats.ttftCensored = this.ttftCensored.count;
    const total = this.total.summary();
    if (total) stats.total = total;
    const speed = this.tokensPerSecond.summary();
    if (speed) stats.tokensPerSecond = speed;
    return stats;
  }

  private combine(other: StatsAccumulator, sign: 1 | -1): void {
    this.requests += sign * other.requests;
    this.ok += sign * other.ok;
    this.errors += sign * other.errors;
    this.cancelled += sign * other.cancelled;
    this.outputTokens += sign * other.outputTokens;
    this.inputTokens += sign * other.inputTokens;
    for (const [code, count] of other.errorCodes) {
      const next = (this.errorCodes.get(code) ?? 0) + sign * count;
      if (next === 0) this.errorCodes.delete(code);
      else this.errorCodes.set(code, next);
    }
  }
}
