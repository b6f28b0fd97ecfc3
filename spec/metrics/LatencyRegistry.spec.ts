import type { SchedulerLike } from 'rxjs';
import { LatencyRegistry, type LatencyRegistryConfig } from '../../src/metrics/LatencyRegistry';
import type { LatencyRecord } from '../../src/metrics/LatencyRecord';

/** A hand-moved clock: the registry reads only `now()`. */
function manualClock() {
  const clock = { time: 0, now: () => clock.time };
  return clock;
}

interface Shape {
  step?: string;
  model?: string;
  at?: number;
  ttft?: number;
  total?: number;
  outcome?: LatencyRecord['outcome'];
  errorCode?: string;
  tokens?: number;
}

function record({ step = 'draft', model = 'small', at = 0, ttft = 100, total = 500, outcome = 'ok', errorCode, tokens = 40 }: Shape): LatencyRecord {
  return {
    step,
    model,
    start: at,
    firstToken: at + ttft,
    end: at + total,
    outcome,
    ...(errorCode ? { errorCode } : {}),
    outputTokens: tokens,
    outputTokensFrom: 'usage',
    inputTokens: 10,
    finishReasons: outcome === 'ok' ? ['stop'] : [],
  };
}

describe('LatencyRegistry', () => {
  let clock: ReturnType<typeof manualClock>;
  const create = (config: LatencyRegistryConfig = {}) =>
    new LatencyRegistry({ ...config, scheduler: clock as unknown as SchedulerLike });
  beforeEach(() => (clock = manualClock()));

  describe('time window', () => {
    it('forgets what is older than the window, to within one slice, and keeps all time', () => {
      const registry = create({ window: { ms: 60_000, slices: 6 } });
      registry.record(record({ at: 0, ttft: 100 }));
      clock.time = 30_000;
      registry.record(record({ at: 30_000, ttft: 300 }));
      expect(registry.percentile({ p: 100 })).toBe(300);
      expect(registry.percentile({ p: 0 })).toBe(100);

      clock.time = 59_999; // still within the slice-0 window
      expect(registry.count()).toBe(2);
      clock.time = 60_000; // slice 0 (0–10 s) leaves the window
      expect(registry.count()).toBe(1);
      expect(registry.percentile({ p: 0 })).toBe(300);

      clock.time = 95_000; // slice 3 (30–40 s) is gone too
      expect(registry.count()).toBe(0);
      expect(registry.percentile({ p: 50 })).toBeUndefined();
      expect(registry.stats().ttft).toBeUndefined();

      expect(registry.count({ view: 'all' })).toBe(2);
      expect(registry.percentile({ p: 50, view: 'all' })).toBe(100);
    });

    it('clears everything when more than a whole window has passed', () => {
      const registry = create({ window: { ms: 1_000, slices: 4 } });
      for (let i = 0; i < 10; i++) registry.record(record({ ttft: i }));
      clock.time = 1_000_000;
      registry.record(record({ at: clock.time, ttft: 42 }));
      expect(registry.stats()).toMatchObject({ requests: 1, ttft: { count: 1, p50: 42 } });
    });

    it('moves correctly when slices hold values of very different ranges', () => {
      const registry = create({ window: { ms: 3_000, slices: 3 } });
      registry.record(record({ ttft: 10, total: 20 }));
      clock.time = 1_000;
      registry.record(record({ at: 1_000, ttft: 3_600_000, total: 3_700_000 })); // an hour: the window's histogram grows
      clock.time = 2_000;
      registry.record(record({ at: 2_000, ttft: 50, total: 60 }));
      clock.time = 3_000; // the 10 ms slice expires
      expect(registry.stats().ttft).toMatchObject({ count: 2, min: 50 });
      clock.time = 4_000; // the hour-long one expires
      expect(registry.stats().ttft).toMatchObject({ count: 1, min: 50, max: 50, mean: 50 });
      expect(registry.stats({ view: 'all' }).ttft).toMatchObject({ count: 3, min: 10 });
    });

    it('subtracts outcomes and error codes of expired slices', () => {
      const registry = create({ window: { ms: 10_000, slices: 2 } });
      registry.record(record({ outcome: 'error', errorCode: 'timeout' }));
      registry.record(record({ outcome: 'cancelled' }));
      clock.time = 5_000;
      registry.record(record({ at: 5_000, outcome: 'error', errorCode: 'server' }));
      expect(registry.stats()).toMatchObject({ errors: 2, cancelled: 1, errorCodes: { server: 1, timeout: 1 } });
      clock.time = 10_000;
      expect(registry.stats()).toMatchObject({ requests: 1, ok: 0, errors: 1, cancelled: 0, errorCodes: { server: 1 } });
      expect(registry.stats({ view: 'all' })).toMatchObject({ requests: 3, errorCodes: { server: 1, timeout: 1 } });
    });
  });

  describe('request-count window', () => {
    it('holds the last requests, moving a slice at a time', () => {
      const registry = create({ window: { requests: 4, slices: 2 } });
      for (let i = 1; i <= 6; i++) registry.record(record({ ttft: i * 10 }));
      // Slices of two: [50, 60] and [30, 40] remain.
      expect(registry.stats().ttft).toMatchObject({ count: 4, min: 30, max: 60 });
      registry.record(record({ ttft: 70 }));
      expect(registry.stats().ttft).toMatchObject({ count: 3, min: 50, max: 70 });
      clock.time = 1e9; // time does not move a request-count window
      expect(registry.count()).toBe(3);
    });

    it('moves each series on its own', () => {
      const registry = create({ window: { requests: 2, slices: 2 } });
      for (let i = 1; i <= 5; i++) registry.record(record({ model: 'busy', ttft: i }));
      registry.record(record({ model: 'quiet', ttft: 1000 }));
      expect(registry.stats({ model: 'busy' }).ttft).toMatchObject({ count: 2, min: 4, max: 5 });
      expect(registry.stats({ model: 'quiet' }).ttft).toMatchObject({ count: 1, min: 1000 });
    });
  });

  describe('queries', () => {
    let registry: LatencyRegistry;
    beforeEach(() => {
      registry = create();
      registry.record(record({ step: 'summary', model: 'small', ttft: 100, total: 400 }));
      registry.record(record({ step: 'summary', model: 'big', ttft: 300, total: 900 }));
      registry.record(record({ step: 'keywords', model: 'small', ttft: 200, total: 250, tokens: 5 }));
    });

    it('reads one series, a step across models, a model across steps, or everything', () => {
      expect(registry.percentile({ step: 'summary', model: 'big', p: 50 })).toBe(300);
      expect(registry.percentile({ step: 'summary', p: 100 })).toBe(300);
      expect(registry.percentile({ model: 'small', p: 100 })).toBe(200);
      expect(registry.percentile({ p: 50 })).toBe(200);
      expect(registry.percentile({ p: 50, metric: 'total' })).toBe(400);
      expect(registry.percentile({ step: 'nope', p: 50 })).toBeUndefined();
      expect(registry.percentile({ step: 'summary', model: 'nope', p: 50 })).toBeUndefined();
      expect(registry.count({ model: 'nope' })).toBe(0);
    });

    it('counts requests cancelled before their first token as censored times to first token', () => {
      const cancelled = (at: number, ran: number): LatencyRecord => ({
        ...record({ step: 'summary', model: 'small', at }),
        firstToken: undefined,
        end: at + ran,
        outcome: 'cancelled',
      });
      // A cancellation with a first token is an exact TTFT; a failure before one is not censored.
      registry.record({ ...record({ step: 'summary', model: 'small', ttft: 150 }), outcome: 'cancelled' });
      registry.record({ ...cancelled(0, 50), outcome: 'error', errorCode: 'server-error' });
      for (const ran of [120, 500, 600]) registry.record(cancelled(0, ran));
      // summary/small: 100, 150 exact; 120+, 500+, 600+ censored. F(100) = 1/5, F(150) = 1 − 4/5 × 2/3 = 0.467.
      expect(registry.percentile({ step: 'summary', model: 'small', p: 20 })).toBe(100);
      expect(registry.percentile({ step: 'summary', model: 'small', p: 45 })).toBe(150);
      expect(registry.percentile({ step: 'summary', model: 'small', p: 95 })).toBe(600);
      // Across series, on the merged histograms (summary/big adds 300 exact): F(300) = 1 − 5/6 × 3/4 × 2/3 = 0.583,
      // and no exact value after it.
      expect(registry.percentile({ step: 'summary', p: 55 })).toBe(300);
      expect(registry.percentile({ step: 'summary', p: 60 })).toBe(600);
      expect(registry.stats({ step: 'summary', model: 'small' })).toMatchObject({ ttftCensored: 3, cancelled: 4, errors: 1, ttft: { count: 2 } });
      expect(registry.stats({ step: 'keywords' }).ttftCensored).toBeUndefined();
      expect(registry.percentile({ step: 'summary', model: 'small', p: 95, view: 'all' })).toBe(600);
    });

    it('gives decode speed over the time after the first token', () => {
      // keywords/small: 5 tokens over 250 − 200 = 50 ms.
      expect(registry.stats({ step: 'keywords' }).tokensPerSecond).toMatchObject({ count: 1, p50: 100, mean: 100 });
      expect(registry.percentile({ step: 'keywords', p: 50, metric: 'tokensPerSecond' })).toBe(100);
    });

    it('snapshots per step and per model as plain, sorted, serialisable data', () => {
      clock.time = 1234;
      const snapshot = registry.snapshot();
      expect(snapshot.version).toBe(1);
      expect(snapshot.takenAt).toBe(1234);
      expect(snapshot.window).toEqual({ ms: 60_000, slices: 6 });
      expect(Object.keys(snapshot.steps)).toEqual(['keywords', 'summary']);
      expect(Object.keys(snapshot.models)).toEqual(['big', 'small']);
      expect(snapshot.steps.summary!.all).toEqual({
        requests: 2,
        ok: 2,
        errors: 0,
        cancelled: 0,
        errorCodes: {},
        outputTokens: 80,
        inputTokens: 20,
        ttft: { count: 2, mean: 200, min: 100, p50: 100, p95: 300, p99: 300, max: 300 },
        total: { count: 2, mean: 650, min: 400, p50: 400, p95: 900, p99: 900, max: 900 },
        tokensPerSecond: expect.objectContaining({ count: 2 }),
      });
      expect(snapshot.steps.summary!.window).toEqual(snapshot.steps.summary!.all);
      expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
    });

    it('lists every series with cumulative Prometheus buckets in seconds', () => {
      const series = registry.series();
      expect(series.map(({ step, model }) => `${step}/${model}`)).toEqual(['keywords/small', 'summary/big', 'summary/small']);
      const { ttft, total } = series[2]!.buckets;
      expect(ttft.le.slice(7, 10)).toEqual([0.1, 0.25, 0.5]);
      expect(ttft.counts.slice(6, 10)).toEqual([0, 1, 1, 1]); // 100 ms falls in le=0.1 (inclusive)
      expect(ttft.counts.at(-1)).toBe(1);
      expect(ttft.le.at(-1)).toBe(Infinity);
      expect(ttft).toMatchObject({ sum: 0.1, count: 1 });
      expect(total).toMatchObject({ sum: 0.4, count: 1 });
    });
  });

  it('keeps at most maxSeries series, and the rest together under "(other)"', () => {
    const registry = create({ maxSeries: 2 });
    registry.record(record({ step: 'a' }));
    registry.record(record({ step: 'b' }));
    registry.record(record({ step: 'c', ttft: 7 }));
    registry.record(record({ step: 'd', ttft: 9 }));
    registry.record(record({ step: 'a' }));
    expect(Object.keys(registry.snapshot().steps)).toEqual(['(other)', 'a', 'b']);
    expect(registry.stats({ step: '(other)' }).ttft).toMatchObject({ count: 2, min: 7, max: 9 });
    expect(registry.count({ step: 'a' })).toBe(2);
  });

  it('streams each record, hot, after the statistics include it', () => {
    const registry = create();
    registry.record(record({ step: 'before' }));
    const seen: [string, number][] = [];
    const subscription = registry.records().subscribe((r) => seen.push([r.step, registry.count()]));
    registry.record(record({ step: 'after' }));
    subscription.unsubscribe();
    registry.record(record({ step: 'gone' }));
    expect(seen).toEqual([['after', 2]]);
  });

  it('forgets everything on reset', () => {
    const registry = create();
    registry.record(record({}));
    registry.reset();
    expect(registry.count({ view: 'all' })).toBe(0);
    expect(registry.snapshot().steps).toEqual({});
  });

  it('rejects bad options at construction, saying where', () => {
    const bad: unknown[] = [
      { window: { ms: 0 } },
      { window: { requests: 2.5 } },
      { window: { ms: 1000, requests: 5 } },
      { maxSeries: 0 },
      { significantDigits: 7 },
      { prometheusBuckets: { ttft: [1, 0.5] } },
      { scheduler: {} },
      { windw: { ms: 1000 } },
    ];
    for (const config of bad) {
      expect(() => new LatencyRegistry(config as LatencyRegistryConfig)).toThrow(
        expect.objectContaining({ code: 'invalid-config', message: expect.stringContaining('new LatencyRegistry(): invalid options') }),
      );
    }
    expect(() => new LatencyRegistry({ prometheusBuckets: { ttft: [1, 0.5] } })).toThrow(/strictly ascending/);
  });
});
