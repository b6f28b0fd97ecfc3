import { asyncScheduler, type Observable, type SchedulerLike, Subject } from 'rxjs';
import * as s from '../internal/check.js';
import type { RxllmError } from '../core/errors.js'; // for {@link} in the docs
import type { LatencyHistogram } from './LatencyHistogram.js';
import type { LatencyRecord } from './LatencyRecord.js';
import { LatencySeries, type WindowPolicy } from './LatencySeries.js';
import { emptyHistogram, type LatencyMetric, type LatencyStats, StatsAccumulator } from './LatencyStats.js';
import { clockSchema, validateConfig } from '../core/validateConfig.js';
import { withFields } from '../internal/withFields.js';

/** The sliding window: the last `ms` milliseconds, or the last `requests` requests, of each series. */
export type LatencyWindowConfig =
  | {
      /** Window length in milliseconds of scheduler time. */
      ms: number;
      /** Slices the window moves by: it holds between `ms × (slices − 1) / slices` and `ms` of history. @defaultValue 6 */
      slices?: number;
    }
  | {
      /** Window length in requests, per (step, model) series. */
      requests: number;
      /** Slices the window moves by: it holds between `requests × (slices − 1) / slices` and `requests` requests. @defaultValue 10 */
      slices?: number;
    };

/** Options of a {@link LatencyRegistry}. Validated at construction. */
export interface LatencyRegistryConfig {
  /** @defaultValue `{ ms: 60_000, slices: 6 }` (the last 50–60 seconds) */
  window?: LatencyWindowConfig;
  /** HdrHistogram precision; see {@link LatencyHistogram}. @defaultValue 3 */
  significantDigits?: 1 | 2 | 3 | 4 | 5;
  /**
   * At most this many (step, model) series; records of further pairs are kept together in one more
   * series, step and model `"(other)"`, so memory stays bounded. A busy series holds 24 histograms
   * (3 metrics × all time, window and 6 slices): about 0.5 MB at 3 significant digits with values
   * up to 30 s, 0.12 MB at 2 digits; an idle one about 0.1 MB.
   * @defaultValue 50
   */
  maxSeries?: number;
  /**
   * Upper bounds of the Prometheus histogram buckets, in seconds (as they appear in `le`).
   * @defaultValue the OpenTelemetry GenAI recommendations: for TTFT 0.001, 0.005, 0.01, 0.02, 0.04,
   * 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10; for total time 0.01, 0.02, 0.04, … 81.92
   * (doubling).
   */
  prometheusBuckets?: {
    /** Bounds for time to first token. */
    ttft?: number[];
    /** Bounds for the whole request's duration. */
    total?: number[];
  };
  /** The clock of the sliding window and of snapshots. @defaultValue asyncScheduler */
  scheduler?: SchedulerLike;
}

/** Which requests a query covers. Both fields absent: every request. */
export interface SeriesQuery {
  /** Only this step's requests (the request context's `step`, else the model). */
  step?: string;
  /** Only requests for this model. */
  model?: string;
  /** The sliding window (what routing and hedging read) or all time. @defaultValue 'window' */
  view?: 'window' | 'all';
}

/** A percentile query: `{ p: 95 }` is the windowed p95 time to first token of every request. */
export interface PercentileQuery extends SeriesQuery {
  /** 0 to 100. */
  p: number;
  /** @defaultValue 'ttft' */
  metric?: LatencyMetric;
}

/** The all-time and windowed statistics of one step or one model. */
export interface SnapshotEntry {
  /** Statistics of every request since the registry was created. */
  all: LatencyStats;
  /** Statistics of the sliding window's requests (what hedging and routing read). */
  window: LatencyStats;
}

/**
 * Everything a registry knows, as plain JSON-serialisable data: save it from a CI run and give it
 * to {@link compareSnapshots} next time, or render it with {@link snapshotTable}.
 */
export interface RegistrySnapshot {
  /** The snapshot format's version, for readers of saved snapshots. */
  version: 1;
  /** Scheduler time of the snapshot (ms). */
  takenAt: number;
  /** The sliding window the `window` statistics cover: by time (`ms`) or by count (`requests`), in `slices` steps. */
  window: {
    /** Its length in ms. */
    ms: number;
    /** How many slices it moves by. */
    slices: number;
  } | {
    /** Its length in requests. */
    requests: number;
    /** How many slices it moves by. */
    slices: number;
  };
  /** Per step, across models. Keys sorted. */
  steps: Record<string, SnapshotEntry>;
  /** Per model, across steps. Keys sorted. */
  models: Record<string, SnapshotEntry>;
}

/** Cumulative bucket counts of one histogram, all time (what a Prometheus histogram shows). */
export interface BucketCounts {
  /** Upper bounds in seconds, ascending, then `Infinity`. */
  le: number[];
  /** Cumulative counts, one per bound; the last equals `count`. */
  counts: number[];
  /** Sum of the values, in seconds. */
  sum: number;
  /** How many values were recorded. */
  count: number;
}

/** One (step, model) series as data: its statistics and its histogram buckets. */
export interface SeriesSnapshot extends SnapshotEntry {
  /** The series' step (`"(other)"` for the overflow series). */
  step: string;
  /** The series' model (`"(other)"` for the overflow series). */
  model: string;
  /** All-time bucket counts of time to first token and of total time, for Prometheus histograms. */
  buckets: {
    /** Time to first token. */
    ttft: BucketCounts;
    /** Total time. */
    total: BucketCounts;
  };
}

/**
 * One series' windowed time to first token, as {@link LatencyRegistry.windowTtft} hands it out.
 * @internal
 */
export interface WindowTtft {
  step: string;
  model: string;
  /** Requests of any outcome in the window. */
  requests: number;
  /** Exact times to first token (ms). */
  readonly ttft: LatencyHistogram;
  /** Right-censored ones: requests cancelled before their first token, by how long they ran. */
  readonly ttftCensored: LatencyHistogram;
}

const OTHER = '(other)';
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
const TOTAL_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];

/**
 * Latency statistics per step and per model: time to first token, total time and tokens per
 * second as HDR histograms (p50/p95/p99/max/mean/count), plus outcome and token counters, over
 * all time and over a sliding window. {@link rxllm!measure | measure} fills it; hedging and routing read its window;
 * {@link snapshotTable}, {@link compareSnapshots}, {@link prometheusText} and {@link recordSpans} report it.
 *
 * Statistics are kept per (step, model) pair and merged on read, so a query may name a step, a
 * model, both or neither. A query that matches one series reads it directly (one histogram scan,
 * about 15 µs); one that spans several merges them first.
 *
 * Not an Observable itself; {@link LatencyRegistry.records} is a hot stream of what is recorded.
 * Memory is bounded by `maxSeries`. Time comes from the scheduler only.
 *
 * @throws {@link rxllm!RxllmError | RxllmError} `invalid-config` on a bad option.
 *
 * @example
 * ```ts
 * const latency = new LatencyRegistry({ window: { ms: 60_000 } });
 * const llm = withMiddleware(sseTransport({ baseURL }), measure({ registry: latency }));
 * // ... later
 * latency.percentile({ model: 'gpt-4o-mini', p: 95 });  // windowed p95 TTFT in ms, or undefined
 * console.log(snapshotTable(latency.snapshot()));
 * ```
 */
export class LatencyRegistry {
  private readonly byStep = new Map<string, Map<string, LatencySeries>>();
  private readonly byModel = new Map<string, LatencySeries[]>();
  private readonly recorded = new Subject<LatencyRecord>();
  private readonly policy: WindowPolicy;
  private readonly significantDigits: 1 | 2 | 3 | 4 | 5;
  private readonly maxSeries: number;
  private readonly bounds: { ttft: number[]; total: number[] };
  private readonly scheduler: SchedulerLike;
  private seriesCount = 0;

  constructor(config: LatencyRegistryConfig = {}) {
    const parsed = validateConfig('new LatencyRegistry', configSchema, config);
    const window = parsed.window;
    this.policy =
      'ms' in window
        ? { kind: 'time', ms: window.ms, slices: window.slices ?? 6 }
        : { kind: 'count', requests: window.requests, slices: Math.min(window.slices ?? 10, window.requests) };
    this.significantDigits = parsed.significantDigits;
    this.maxSeries = parsed.maxSeries;
    // Bounds are kept in ms; rounding keeps 0.06 s at exactly 60 ms despite binary floating point.
    const toMs = (seconds: number[]) => seconds.map((s) => Math.round(s * 1e6) / 1e3);
    this.bounds = { ttft: toMs(parsed.prometheusBuckets.ttft), total: toMs(parsed.prometheusBuckets.total) };
    this.scheduler = parsed.scheduler ?? asyncScheduler;
  }

  /**
   * Adds one finished request. {@link rxllm!measure | measure} calls this; call it yourself to feed records from
   * elsewhere. Subscribers of {@link LatencyRegistry.records} see the record after the statistics
   * include it.
   */
  record(record: LatencyRecord): void {
    const now = this.scheduler.now();
    this.seriesFor(record.step, record.model, now).record(record, now);
    this.recorded.next(record);
  }

  /**
   * Hot: every record from now on, as it is recorded (nothing is replayed). Never completes or
   * errors. Exporters ({@link recordSpans}) subscribe here.
   */
  records(): Observable<LatencyRecord> {
    return this.recorded.asObservable();
  }

  /**
   * The value at a percentile of one metric (default: time to first token, in ms) over the
   * requests the query matches, in the window by default; `undefined` when there are none.
   *
   * For time to first token, requests cancelled before their first token count as right-censored
   * values ("longer than the time they ran"), and the percentile is the Kaplan–Meier estimate (see
   * {@link LatencyHistogram.percentileCensored}): without them, the losers `hedge()` cancels would
   * take the slowest requests out of the window and its p95 would read low. With none cancelled, it
   * is the plain nearest-rank percentile.
   */
  percentile(query: PercentileQuery): number | undefined {
    const metric = query.metric ?? 'ttft';
    const matching = this.matching(query);
    const view = query.view ?? 'window';
    if (matching.length === 0) return undefined;
    const one = matching.length === 1 ? matching[0]![view] : undefined;
    const histogram = one ? one.histogram(metric) : this.mergeHistograms(matching, view, (s) => s.histogram(metric), metric);
    if (metric !== 'ttft') return histogram.percentile(query.p);
    const censored = one ? one.ttftCensored : this.mergeHistograms(matching, view, (s) => s.ttftCensored, metric);
    return histogram.percentileCensored(query.p, censored);
  }

  /** How many requests (any outcome) the query matches. Cheap: no histogram is read. */
  count(query: SeriesQuery = {}): number {
    const view = query.view ?? 'window';
    return this.matching(query).reduce((sum, series) => sum + series[view].requests, 0);
  }

  /**
   * The windowed time-to-first-token histograms of each (step, model) series the query matches, with its
   * request count: what rxllm/redis's shared latency source publishes for other instances and merges with
   * theirs on read. The histograms are the registry's own, live: read them, never change them.
   * @internal
   */
  windowTtft(query: Omit<SeriesQuery, 'view'> = {}): WindowTtft[] {
    return this.matching(withFields(query, { view: 'window' as const })).map((series) => ({
      step: series.step,
      model: series.model,
      requests: series.window.requests,
      ttft: series.window.ttft,
      ttftCensored: series.window.ttftCensored,
    }));
  }

  /** Every statistic over the requests the query matches. */
  stats(query: SeriesQuery = {}): LatencyStats {
    return this.merge(this.matching(query), query.view ?? 'window').stats();
  }

  /** Per step and per model, all time and windowed, as plain data. */
  snapshot(): RegistrySnapshot {
    this.advanceAll();
    const steps: Record<string, SnapshotEntry> = {};
    for (const step of [...this.byStep.keys()].sort()) steps[step] = this.entry([...this.byStep.get(step)!.values()]);
    const models: Record<string, SnapshotEntry> = {};
    for (const model of [...this.byModel.keys()].sort()) models[model] = this.entry(this.byModel.get(model)!);
    const window =
      this.policy.kind === 'time'
        ? { ms: this.policy.ms, slices: this.policy.slices }
        : { requests: this.policy.requests, slices: this.policy.slices };
    return { version: 1, takenAt: this.scheduler.now(), window, steps, models };
  }

  /** Every (step, model) series with its histogram buckets: what the Prometheus exporter reads. */
  series(): SeriesSnapshot[] {
    this.advanceAll();
    const out: SeriesSnapshot[] = [];
    for (const step of [...this.byStep.keys()].sort()) {
      const models = this.byStep.get(step)!;
      for (const model of [...models.keys()].sort()) {
        const series = models.get(model)!;
        out.push({
          step,
          model,
          all: series.all.stats(),
          window: series.window.stats(),
          buckets: {
            ttft: bucketCounts(this.bounds.ttft, series.ttftBuckets, series.all.ttft.total()),
            total: bucketCounts(this.bounds.total, series.totalBuckets, series.all.total.total()),
          },
        });
      }
    }
    return out;
  }

  /** Forgets every statistic (subscribers of `records()` stay subscribed). */
  reset(): void {
    this.byStep.clear();
    this.byModel.clear();
    this.seriesCount = 0;
  }

  private seriesFor(step: string, model: string, now: number): LatencySeries {
    const existing = this.byStep.get(step)?.get(model);
    if (existing) return existing;
    if (this.seriesCount >= this.maxSeries) return this.byStep.get(OTHER)?.get(OTHER) ?? this.create(OTHER, OTHER, now);
    // The overflow series is not counted: there are at most `maxSeries` named series plus it.
    this.seriesCount++;
    return this.create(step, model, now);
  }

  private create(step: string, model: string, now: number): LatencySeries {
    const series = new LatencySeries(step, model, this.policy, { significantDigits: this.significantDigits }, this.bounds, now);
    let models = this.byStep.get(step);
    if (!models) this.byStep.set(step, (models = new Map()));
    models.set(model, series);
    const forModel = this.byModel.get(model);
    if (forModel) forModel.push(series);
    else this.byModel.set(model, [series]);
    return series;
  }

  private matching(query: SeriesQuery): LatencySeries[] {
    let found: LatencySeries[];
    if (query.step !== undefined) {
      const models = this.byStep.get(query.step);
      if (!models) return [];
      if (query.model !== undefined) {
        const one = models.get(query.model);
        found = one ? [one] : [];
      } else found = [...models.values()];
    } else if (query.model !== undefined) found = this.byModel.get(query.model) ?? [];
    else found = [...this.byStep.values()].flatMap((models) => [...models.values()]);
    if ((query.view ?? 'window') === 'window') {
      const now = this.scheduler.now();
      for (const series of found) series.advance(now);
    }
    return found;
  }

  private mergeHistograms(
    series: LatencySeries[],
    view: 'window' | 'all',
    pick: (stats: StatsAccumulator) => LatencyHistogram,
    metric: LatencyMetric,
  ): LatencyHistogram {
    const merged = emptyHistogram(metric, { significantDigits: this.significantDigits });
    for (const one of series) merged.add(pick(one[view]));
    return merged;
  }

  private merge(series: LatencySeries[], view: 'window' | 'all'): StatsAccumulator {
    if (series.length === 1) return series[0]![view];
    const merged = new StatsAccumulator({ significantDigits: this.significantDigits });
    for (const one of series) merged.add(one[view]);
    return merged;
  }

  private entry(series: LatencySeries[]): SnapshotEntry {
    return { all: this.merge(series, 'all').stats(), window: this.merge(series, 'window').stats() };
  }

  private advanceAll(): void {
    const now = this.scheduler.now();
    for (const models of this.byStep.values()) for (const series of models.values()) series.advance(now);
  }
}

function bucketCounts(boundsMs: readonly number[], counts: readonly number[], sumMs: number): BucketCounts {
  let running = 0;
  const cumulative = counts.map((count) => (running += count));
  return { le: [...boundsMs.map((ms) => ms / 1000), Infinity], counts: cumulative, sum: sumMs / 1000, count: running };
}

const ascending = (values: number[]) => values.every((value, i) => i === 0 || value > values[i - 1]!);
const bucketList = s
  .array(s.number().positive().finite())
  .min(1)
  .refine(ascending, 'bucket bounds must be strictly ascending');

const configSchema = s.strictObject({
  window: s
    .union([
      s.strictObject({ ms: s.number().positive().finite(), slices: s.number().int().min(1).max(120).optional() }),
      s.strictObject({ requests: s.number().int().positive(), slices: s.number().int().min(1).max(120).optional() }),
    ])
    .default({ ms: 60_000, slices: 6 }),
  significantDigits: s.union([s.literal(1), s.literal(2), s.literal(3), s.literal(4), s.literal(5)]).default(3),
  maxSeries: s.number().int().positive().default(50),
  prometheusBuckets: s
    .strictObject({ ttft: bucketList.default(TTFT_BUCKETS), total: bucketList.default(TOTAL_BUCKETS) })
    .default({ ttft: TTFT_BUCKETS, total: TOTAL_BUCKETS }),
  scheduler: clockSchema
    .optional(),
});

