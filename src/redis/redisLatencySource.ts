import type { Cluster, Redis } from 'ioredis';
import { asyncScheduler, type SchedulerLike, timer } from 'rxjs';
import * as s from '../internal/check.js';
import { RxllmError } from '../core/errors.js';
import { functionSchema, schedulerSchema, validateConfig } from '../core/validateConfig.js';
import { LatencyHistogram } from '../metrics/LatencyHistogram.js';
import type { LatencyRegistry, PercentileQuery, SeriesQuery } from '../metrics/LatencyRegistry.js';
import type { LatencySource } from '../middleware/latencySource.js';
import { decodeSeries, encodeSeries, type PublishedSeries } from './latencyCodec.js';
import { sha256 } from '../internal/sha256.js';
import { guardedCalls } from './guardedCalls.js';
import { redisOrClusterSchema } from './redisClientSchema.js';

/** Options for {@link redisLatencySource}. */
export interface RedisLatencySourceConfig {
  /**
   * A connected (or connecting) ioredis client the app already has: `new Redis(url)`, a Sentinel client, or a
   * Redis Cluster client (`new Cluster(nodes)`). The source sends its commands on it and never closes it.
   */
  redis: Redis | Cluster;
  /**
   * Start of every key the source writes, e.g. `'myapp:llm:'`. Instances that should route as one fleet give
   * the same prefix; two fleets (or two apps) sharing a Redis give two. No `{` or `}`: the source adds a hash
   * tag of its own after it (see the keys table).
   */
  prefix: string;
  /**
   * This instance's own statistics: the `LatencyRegistry` that `measure()` fills. Its windowed time to first
   * token is what the source publishes, and its sliding window (`new LatencyRegistry({ window })`) is the
   * window the fleet's figures cover: each instance publishes its last window, readers add them up.
   */
  registry: LatencyRegistry;
  /**
   * How often, in milliseconds, this instance publishes its window and reads the fleet's back (one round trip
   * does both). What one instance sees, every other instance's `route()` and `hedge()` see within two
   * intervals. @defaultValue 5000
   */
  publishInterval?: number;
  /**
   * How long, in milliseconds, what an instance published stays in Redis without a newer publish: an instance
   * that stops (crashed, scaled in) drops out of the fleet's figures after this. More than `publishInterval`.
   * @defaultValue 3 × `publishInterval`
   */
  ttl?: number;
  /**
   * Longest a publish-and-read round trip may take, in milliseconds, before it counts as a failure (and the
   * source falls back to the local figures). @defaultValue the smaller of 1000 and `publishInterval`
   */
  timeout?: number;
  /**
   * This instance's name in the keys (letters, digits, `.`, `_`, `:`, `-`; at most 100). Give a stable one (a
   * pod name) to replace a restarted instance's entry at once instead of after `ttl`. Never a secret: it is
   * part of a key. @defaultValue a random UUID
   */
  instanceId?: string;
  /**
   * Called once when sharing stops (Redis unreachable, a timeout, an error), and not again until a round trip
   * has succeeded: one line per outage. @defaultValue `console.warn` of the error's message
   */
  onError?: (error: RxllmError) => void;
  /**
   * Runs the publish timer and the `timeout` (tests pass a `TestScheduler` or a virtual-time scheduler).
   * @defaultValue Node timers that are `unref()`'d, so the source never keeps a process alive
   */
  scheduler?: SchedulerLike;
}

/** Counts kept by a {@link redisLatencySource} (this instance only). */
export interface RedisLatencySourceStats {
  /** Round trips that published this instance's window and read the fleet's. */
  publishes: number;
  /** Round trips that failed (or were skipped while Redis was unreachable): answered from the local registry meanwhile. */
  errors: number;
  /** Outages: how many times the source went from sharing to local figures (each logged once through `onError`). */
  fallbacks: number;
  /** Published values under the prefix that could not be decoded (skipped; something else writes there). */
  malformed: number;
  /** Whether the figures include other instances now (the last round trip succeeded). */
  sharing: boolean;
  /** Other instances in the figures now. */
  instances: number;
}

/** A {@link LatencySource} for `route()` and `hedge()` with the whole fleet's figures, and its controls. */
export interface RedisLatencySource extends LatencySource {
  /**
   * Publishes this instance's window and reads the fleet's now, instead of at the next interval. Resolves when
   * done; never rejects (a failure is a fallback, counted in {@link RedisLatencySourceStats}). A round trip
   * already under way is joined, not doubled.
   */
  refresh(): Promise<void>;
  /** This instance's counts. */
  stats(): RedisLatencySourceStats;
  /**
   * Stops the timer, forgets the other instances' figures (reads are local from then on), and removes this
   * instance's published entry so the fleet stops counting it at once. Resolves when the removal is done or
   * has failed; never rejects. Idempotent.
   */
  close(): Promise<void>;
}

/** The fleet's figures of a set of series, as the last round trip left them. */
interface Figures {
  requests: number;
  ttft: LatencyHistogram;
  ttftCensored: LatencyHistogram;
}

interface Snapshot {
  instances: number;
  /** By `step\0model`, `step\0*`, `*\0model` and `*\0*`: every query route() and hedge() make is one lookup. */
  figures: Map<string, Figures>;
}

interface Decoded {
  raw: string;
  series: PublishedSeries[];
}

/** Most merged percentiles kept (per key and percentile); the cache starts afresh past it. */
const MAX_CACHED = 1_000;

const EMPTY: Snapshot = { instances: 0, figures: new Map() };
const ANY = '*';
const keyOf = (step: string | undefined, model: string | undefined) => `${step === undefined ? ANY : `=${step}`}\u0000${model === undefined ? ANY : `=${model}`}`;

/*
 * One round trip's read half, atomic on the server: every instance still in the set, with what it published;
 * an instance whose entry has expired leaves the set here. Doing it in one script means no reader can drop an
 * instance that has just published again (a separate SREM after a GET could).
 */
const READ_FLEET = `
local ids = redis.call('SMEMBERS', KEYS[1])
local out = {}
for _, id in ipairs(ids) do
  local value = redis.call('GET', ARGV[1] .. id)
  if value then
    out[#out + 1] = id
    out[#out + 1] = value
  else
    redis.call('SREM', KEYS[1], id)
  end
end
return out
`;

/**
 * A latency source shared by every instance of an app: `route({ registry: source })` and
 * `hedge({ after: 'p95', registry: source })` decide from the fleet's windowed time to first token, so a
 * deployment that one instance sees slowing down is avoided by all of them within two `publishInterval`s.
 *
 * Every `publishInterval`, one round trip (a pipeline) publishes this instance's windowed TTFT histograms, per
 * (step, model), from its own `registry`, and reads every other instance's back; the source merges them into
 * one snapshot. `percentile()` and `count()` are synchronous and never wait on Redis: they answer from the
 * last snapshot plus this instance's own registry, live (so its own samples count at once, and `route()`'s
 * probing sees them as it sees the registry's).
 *
 * **Keys written** (`<id>` is `instanceId`; `<t>` is the first 8 hex digits of the SHA-256 of the prefix, a Redis
 * Cluster hash tag that puts every key of one prefix in one slot):
 *
 * | key | type | value | expiry |
 * |---|---|---|---|
 * | `<prefix>latency:{<t>}:instances` | set | the ids of the instances publishing under this prefix | `PX ttl`, renewed by every publish |
 * | `<prefix>latency:{<t>}:instance:<id>` | string | JSON `{"v":1,"s":[[step, model, requests, ttft, censored], ...]}`: per (step, model), the window's request count and its TTFT and censored-TTFT histograms in HdrHistogram's compressed V2 encoding, base64 | `PX ttl`, renewed by every publish |
 *
 * Key names hold only the prefix and the instance id. Step and model names appear inside the values, as they
 * are: they are the app's labels (`step('summary')`, `'gpt-4o-mini@eastus'`), not secrets; no request, prompt,
 * header or key is ever written. Redis operations per instance: 4 commands in 1 round trip per interval (`SET`,
 * `SADD`, `PEXPIRE`, and one `EVAL` that reads the fleet); none per request.
 *
 * - **Reads**: `percentile({ step?, model?, p })` of time to first token over the window is the Kaplan–Meier
 *   estimate over every instance's exact and censored values together (as {@link rxllm/metrics!LatencyRegistry.percentile | LatencyRegistry.percentile}
 *   computes it for one instance); `count()` adds every instance's window. Other metrics (`total`,
 *   `tokensPerSecond`) and `view: 'all'` are this instance's own figures.
 * - **Faults never fail a request.** Redis down at start or going away: the round trip fails (at once when the
 *   client is not connected, else after `timeout`), the other instances' figures are dropped, reads answer from
 *   the local registry alone, `onError` hears of it once, `stats()` counts it; when the client is ready again,
 *   the next interval shares again.
 * - **Redis Cluster**: the read script reaches every instance's key, which Cluster allows only within one slot:
 *   hence the `{<t>}` tag, one slot per prefix (per fleet), so the round trip is one pipeline to one node. A
 *   fleet's latency keys are a handful of small values written once per interval per instance. Tested against a
 *   real three-master cluster.
 * - **Hot**: starts its timer at construction (the first round trip right away); `close()` stops it. The timer
 *   is `unref()`'d (without a `scheduler`), so it never keeps a process alive.
 *
 * The client is the app's: the source never connects, disconnects or quits it.
 *
 * @throws {@link rxllm!RxllmError | RxllmError} `invalid-config` for a missing or wrong client or registry, an empty prefix,
 * an interval, `ttl` or `timeout` that is not a positive integer, a `ttl` not above `publishInterval`, a bad `instanceId`.
 *
 * @example
 * ```ts
 * import Redis from 'ioredis';
 * import { measure, route, sseTransport, withMiddleware } from 'rxllm';
 * import { LatencyRegistry } from 'rxllm/metrics';
 * import { redisLatencySource } from 'rxllm/redis';
 *
 * const latency = new LatencyRegistry({ window: { ms: 60_000 } });
 * const fleet = redisLatencySource({ redis: new Redis(process.env.REDIS_URL!), prefix: 'myapp:llm:', registry: latency });
 * const llm = withMiddleware(
 *   sseTransport({ baseURL }),
 *   route({ tiers: { fast: ['gpt-4o-mini@eastus', 'gpt-4o-mini@westeurope'] }, registry: fleet }),
 *   measure({ registry: latency }),
 * );
 * // on shutdown
 * await fleet.close();
 * ```
 * @see rxllm!route
 * @see rxllm!hedge
 */
export function redisLatencySource(config: RedisLatencySourceConfig): RedisLatencySource {
  const options = validateConfig('redisLatencySource', configSchema, config);
  const { redis, prefix, registry, publishInterval, scheduler } = options;
  const ttl = options.ttl ?? 3 * publishInterval;
  const timeout = options.timeout ?? Math.min(1_000, publishInterval);
  const instanceId = options.instanceId ?? globalThis.crypto.randomUUID();
  const onError = options.onError ?? ((error: RxllmError) => console.warn(error.message));
  // One hash tag per prefix: the set and every instance's key in one Cluster slot, as READ_FLEET needs.
  const tagged = `${prefix}latency:{${sha256(prefix).slice(0, 8)}}:`;
  const setKey = `${tagged}instances`;
  const instancePrefix = `${tagged}instance:`;
  const ownKey = instancePrefix + instanceId;
  const timers = timersOf(scheduler);

  const counts = { publishes: 0, fallbacks: 0, malformed: 0 };
  // The shared guard: fails fast while the client is not connected, fails after `timeout`, reports the first
  // failure of an outage (each such report is one fallback to local figures). Its timeout runs on the scheduler
  // given, else on asyncScheduler: only while a round trip is under way, so it never keeps a process alive by itself.
  const calls = guardedCalls(
    'redisLatencySource',
    redis,
    timeout,
    scheduler ?? asyncScheduler,
    (error) => {
      counts.fallbacks++;
      onError(error);
    },
    "Routing and hedging use this instance's own latency figures meanwhile.",
  );
  let snapshot = EMPTY;
  let closed = false;
  let running: Promise<void> | undefined;
  /** The last round trip's values, decoded, by instance id. */
  let decoded = new Map<string, Decoded>();

  const roundTrip = async (): Promise<void> => {
    const fleet = await calls.run('publishing and reading latency', async () => {
      const replies = await redis
        .pipeline()
        .set(ownKey, encodeSeries(registry.windowTtft()), 'PX', ttl)
        .sadd(setKey, instanceId)
        .pexpire(setKey, ttl)
        .eval(READ_FLEET, 1, setKey, instancePrefix)
        .exec();
      for (const [error] of replies ?? []) if (error) throw error;
      const read = replies?.[3]?.[1];
      if (!Array.isArray(read)) throw new Error('the fleet read returned no list');
      return read as string[];
    });
    if (closed) return;
    snapshot = merge(fleet);
    counts.publishes++;
  };

  // Builds the snapshot: every other instance's series, added up per (step, model), per step, per model and in all.
  const merge = (fleet: string[]): Snapshot => {
    const figures = new Map<string, Figures>();
    const add = (key: string, requests: number, ttft: LatencyHistogram, ttftCensored: LatencyHistogram) => {
      let into = figures.get(key);
      if (!into) figures.set(key, (into = { requests: 0, ttft: new LatencyHistogram(), ttftCensored: new LatencyHistogram() }));
      into.requests += requests;
      into.ttft.add(ttft);
      into.ttftCensored.add(ttftCensored);
    };
    let instances = 0;
    const seen = new Map<string, Decoded>();
    for (let i = 0; i + 1 < fleet.length; i += 2) {
      const id = fleet[i]!;
      const raw = fleet[i + 1]!;
      if (id === instanceId) continue; // our own figures are read live from the registry
      // An instance whose value has not changed since the last round trip (an idle one) is not decoded again.
      let series = decoded.get(id)?.raw === raw ? decoded.get(id)!.series : undefined;
      if (!series) {
        try {
          series = decodeSeries(raw);
        } catch {
          counts.malformed++;
          continue;
        }
      }
      seen.set(id, { raw, series });
      instances++;
      for (const { step, model, requests, ttft, ttftCensored } of series) {
        for (const key of [keyOf(step, model), keyOf(step, undefined), keyOf(undefined, model), keyOf(undefined, undefined)]) {
          add(key, requests, ttft, ttftCensored);
        }
      }
    }
    decoded = seen;
    return { instances, figures };
  };

  const refresh = (): Promise<void> => {
    if (closed) return Promise.resolve();
    running ??= roundTrip()
      .catch(() => {
        // Counted and reported by the guard; the other instances' figures are dropped until a round trip succeeds.
        snapshot = EMPTY;
      })
      .finally(() => (running = undefined));
    return running;
  };

  const stopTimer = timers.every(publishInterval, () => void refresh());

  const scratch = { ttft: new LatencyHistogram(), censored: new LatencyHistogram() };
  const remote = (query: SeriesQuery): Figures | undefined => snapshot.figures.get(keyOf(query.step, query.model));

  // Merged percentiles are cached until something they depend on changes: the snapshot (a round trip), a record of
  // this instance under the same key (counted below; the registry tells every record), or the local window's
  // expiry (which lowers the local count). A merge costs tens of microseconds, a cached read about one.
  const versions = new Map<string, number>();
  const cache = new Map<string, { snapshot: Snapshot; version: number; count: number; value: number | undefined }>();
  const recorded = registry.records().subscribe(({ step, model }) => {
    if (versions.size > 4 * MAX_CACHED) {
      versions.clear(); // restarting versions at 0 could match an old entry: the cache goes too
      cache.clear();
    }
    for (const key of [keyOf(step, model), keyOf(step, undefined), keyOf(undefined, model), keyOf(undefined, undefined)]) {
      versions.set(key, (versions.get(key) ?? 0) + 1);
    }
  });

  const merged = (query: PercentileQuery, fleet: Figures): number | undefined => {
    const local = registry.windowTtft(query).filter((series) => series.requests > 0);
    if (local.length === 0) return fleet.ttft.percentileCensored(query.p, fleet.ttftCensored);
    // Into two histograms kept for the purpose, so a merge allocates nothing; reads are synchronous, so no two
    // share them at once.
    const { ttft, censored } = scratch;
    ttft.reset();
    censored.reset();
    ttft.add(fleet.ttft);
    censored.add(fleet.ttftCensored);
    for (const series of local) {
      ttft.add(series.ttft);
      censored.add(series.ttftCensored);
    }
    return ttft.percentileCensored(query.p, censored);
  };

  return {
    percentile(query: PercentileQuery): number | undefined {
      if ((query.metric ?? 'ttft') !== 'ttft' || (query.view ?? 'window') !== 'window') return registry.percentile(query);
      const fleet = remote(query);
      if (!fleet) return registry.percentile(query);
      const key = keyOf(query.step, query.model);
      const version = versions.get(key) ?? 0;
      const count = registry.count(query);
      const cacheKey = `${key}\u0000${query.p}`;
      const hit = cache.get(cacheKey);
      if (hit && hit.snapshot === snapshot && hit.version === version && hit.count === count) return hit.value;
      const value = merged(query, fleet);
      if (cache.size >= MAX_CACHED) cache.clear();
      cache.set(cacheKey, { snapshot, version, count, value });
      return value;
    },
    count(query: SeriesQuery = {}): number {
      const own = registry.count(query);
      return (query.view ?? 'window') === 'window' ? own + (remote(query)?.requests ?? 0) : own;
    },
    refresh,
    stats: () => ({ ...counts, errors: calls.errors, sharing: snapshot !== EMPTY, instances: snapshot.instances }),
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      stopTimer();
      recorded.unsubscribe();
      snapshot = EMPTY;
      decoded = new Map();
      cache.clear();
      await running;
      if (redis.status !== 'ready') return;
      // Best effort: if this fails, the entry expires after `ttl` anyway.
      await timers.within(redis.pipeline().del(ownKey).srem(setKey, instanceId).exec(), timeout, () => new Error('timeout')).catch(() => undefined);
    },
  };
}

interface Timers {
  /** Calls `task` now and every `ms`; returns the stop function. */
  every(ms: number, task: () => void): () => void;
  /** `promise`, or a rejection with `error()` after `ms`. The promise's own later rejection is swallowed. */
  within<T>(promise: Promise<T>, ms: number, error: () => Error): Promise<T>;
}

/*
 * The publish timer is a background loop at the edge, not operator logic: with a scheduler it runs on it (so a
 * test can drive it); without one it runs on Node timers, because only those can be unref()'d, and a shared
 * statistics loop must never keep an app (or a CLI, or a test runner) alive on its own.
 */
function timersOf(scheduler: SchedulerLike | undefined): Timers {
  const after = (ms: number, task: () => void): (() => void) => {
    if (scheduler) {
      const action = scheduler.schedule(task, ms);
      return () => action.unsubscribe();
    }
    const handle = setTimeout(task, ms);
    handle.unref();
    return () => clearTimeout(handle);
  };
  return {
    every(ms, task) {
      if (scheduler) {
        const subscription = timer(0, ms, scheduler).subscribe(task);
        return () => subscription.unsubscribe();
      }
      const first = after(0, task);
      const handle = setInterval(task, ms);
      handle.unref();
      return () => {
        first();
        clearInterval(handle);
      };
    },
    within(promise, ms, error) {
      return new Promise((resolve, reject) => {
        const cancel = after(ms, () => reject(error()));
        promise.then(
          (value) => {
            cancel();
            resolve(value);
          },
          (cause: unknown) => {
            cancel();
            reject(cause);
          },
        );
      });
    },
  };
}

const positiveInt = s.number().int().positive();
const configSchema = s
  .strictObject({
    redis: redisOrClusterSchema(['pipeline', 'set', 'sadd', 'pexpire', 'eval', 'del', 'srem']),
    prefix: s
      .string()
      .min(1, 'a non-empty key prefix, such as "myapp:llm:"')
      .refine((prefix) => !/[{}]/.test(prefix), 'a prefix without "{" or "}": the source adds a hash tag of its own'),
    registry: s.custom<LatencyRegistry>(
      (value) =>
        typeof value === 'object' &&
        value !== null &&
        ['windowTtft', 'percentile', 'count'].every((method) => typeof (value as Record<string, unknown>)[method] === 'function'),
      'expected a LatencyRegistry from rxllm/metrics (the one measure() records into)',
    ),
    publishInterval: positiveInt.default(5_000),
    ttl: positiveInt.optional(),
    timeout: positiveInt.optional(),
    instanceId: s
      .string()
      .refine((id) => /^[\w.:-]{1,100}$/.test(id), { message: 'letters, digits, ".", "_", ":" or "-", 1 to 100 of them' })
      .optional(),
    onError: functionSchema<(error: RxllmError) => void>('a function (error) => void').optional(),
    scheduler: schedulerSchema.optional(),
  })
  .refine((options) => options.ttl === undefined || options.ttl > options.publishInterval, {
    message: '`ttl` must be longer than `publishInterval`, or an instance would drop out of the fleet between two publishes',
    path: ['ttl'],
  });
