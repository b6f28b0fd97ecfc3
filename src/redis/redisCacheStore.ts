import type { Cluster, Redis } from 'ioredis';
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import * as s from '../internal/check.js';
import type { CacheEntry, CacheStore, CacheStoreStats } from '../cache/CacheStore.js';
import { RxllmError } from '../core/errors.js';
import type { LlmEvent } from '../core/events.js';
import { functionSchema, schedulerSchema, validateConfig } from '../core/validateConfig.js';
import { redisOrClusterSchema } from './redisClientSchema.js';
import { guardedCalls } from './guardedCalls.js';

/** Options for {@link redisCacheStore}. */
export interface RedisCacheStoreConfig {
  /**
   * A connected (or connecting) ioredis client the app already has: `new Redis(url)`, a Sentinel client, or a
   * Redis Cluster client (`new Cluster(nodes)`). The store sends its commands on it and never closes it.
   */
  redis: Redis | Cluster;
  /**
   * Start of every key the store writes, e.g. `'myapp:llm:'`. Required: a shared Redis holds other data, and
   * `clear()` removes exactly the keys that start with it. Give two apps (or two cache()s that must not share
   * answers) two prefixes.
   */
  prefix: string;
  /**
   * Longest an entry lives in Redis, in milliseconds, whatever `cache({ ttl })` asks: an entry expires after the
   * shorter of the two. Omit it to use `cache()`'s `ttl` alone.
   */
  ttl?: number;
  /**
   * Largest entry written, in bytes of its stored (UTF-8 JSON) value. A larger answer is not stored (it is still
   * served to its callers) and counted as {@link RedisCacheStoreStats.tooLarge}. Bounds what one answer costs
   * Redis memory; Redis's own `maxmemory` bounds the whole.
   */
  maxEntryBytes: number;
  /**
   * Most milliseconds a get, set or delete may take before it fails with a `timeout` error (which `cache()`
   * treats as a miss). Keeps a slow or unreachable Redis from holding requests up. @defaultValue 500
   */
  timeout?: number;
  /**
   * Called once when the store starts failing (Redis gone, a timeout), and not again until a call has
   * succeeded: one line per outage, not one per request. @defaultValue `console.warn` of the error's message
   */
  onError?: (error: RxllmError) => void;
  /**
   * Clock for the expiry handed back to `cache()` and for `timeout`: give the same scheduler as
   * `cache({ scheduler })`. @defaultValue `asyncScheduler`
   */
  scheduler?: SchedulerLike;
}

/** Counts kept by a {@link redisCacheStore} (per store object, so per instance; not shared through Redis). */
export interface RedisCacheStoreStats extends CacheStoreStats {
  /** Answers not written because their value was larger than `maxEntryBytes`. */
  tooLarge: number;
  /** Calls that failed: Redis unreachable, a timeout, a command error, a value that is not one of ours. */
  errors: number;
}

/** A {@link CacheStore} in Redis, with its own counts. */
export interface RedisCacheStore extends CacheStore {
  /** Removes every key under the prefix (SCAN + UNLINK, on every master of a Cluster); keys of anything else are untouched. */
  clear(): Promise<void>;
  /** This store object's counts (this instance only: they are not shared through Redis). */
  stats(): RedisCacheStoreStats;
}

/** The value stored under each key: the answer's events as JSON, and what is needed to hand the entry back. */
interface StoredValue {
  /** Format version, so a later format can tell old values apart. */
  v: 1;
  /** The expiry applied, in milliseconds. */
  ttl: number;
  /** {@link CacheEntry.bytes}. */
  bytes: number;
  events: LlmEvent[];
}

/**
 * A shared response cache in Redis for {@link rxllm!cache | cache}: `cache({ store: redisCacheStore({ redis, prefix, maxEntryBytes }) })`
 * on every instance of an app, so an answer stored by one is a hit on all the others, replayed exactly as the
 * memory store replays it (the same events, frozen, at `cache()`'s `replayInterval`).
 *
 * **Keys written** (one per answer, nothing else):
 *
 * | key | type | value | expiry |
 * |---|---|---|---|
 * | `<prefix><request key>` | string | JSON `{"v":1,"ttl":ms,"bytes":n,"events":[...]}`: the answer's `LlmEvent`s, not wire bytes | `PX`: the shorter of `cache()`'s `ttl` and this store's `ttl` |
 *
 * The request key is {@link rxllm!requestKey | requestKey}'s 64 hex digits (a hash of the request and its `scope` attribute, so no
 * prompt text, API key or header ever reaches a key) unless `cache({ key })` says otherwise.
 *
 * - **Stores** only what `cache()` hands it: complete, successful answers. Redis expires them (`SET ... PX`).
 *   A value over `maxEntryBytes` is not written (counted in `tooLarge`; the set still resolves).
 * - **Reads** the value and its remaining time in one round trip (`GET` + `PTTL`), and hands `cache()` an expiry
 *   on its own clock, so instances whose clocks disagree never serve a stale answer or drop a fresh one.
 * - **Faults never fail a request.** While the client is not connected (`reconnecting`, `close`, `end`, or anything
 *   but `ready` once a call has failed) a call fails at once with `connection-lost` (nothing is queued behind a dead
 *   connection); a call that takes longer than `timeout` fails with `timeout`; a value under the prefix that is not ours fails with `malformed-event`.
 *   `cache()` turns a failed lookup into a miss (the request goes upstream) and counts a failed write in its
 *   `storeErrors`. `onError` hears of the first failure of an outage; sharing resumes by itself when the client
 *   is ready again. `delete()` and `clear()`, called through `cache().delete()`/`clear()`, reject with these errors.
 * - **clear()** walks the keys under the prefix with `SCAN MATCH <prefix>*` and removes them with `UNLINK` (never
 *   `FLUSHDB`); keys written meanwhile may survive it. On a Cluster it scans every master
 *   (`cluster.nodes('master')`) and unlinks each key through the Cluster client (keys of one node may be in
 *   different slots, which one multi-key `UNLINK` may not mix).
 * - **Redis Cluster**: every command touches one key (the `GET` + `PTTL` pipeline reads the same key twice), so
 *   each answer lives in the slot of its own key and answers spread over every master. Tested against a real
 *   three-master cluster.
 * - **stats()** counts per store object: `tooLarge`, `errors`. It cannot tell `entries`/`bytes` cheaply and leaves them out.
 *
 * The client is the app's: the store never connects, disconnects or quits it.
 *
 * @throws {@link rxllm!RxllmError | RxllmError} `invalid-config` for a missing or wrong client, an empty prefix, a `ttl`,
 * `maxEntryBytes` or `timeout` that is not a positive integer.
 *
 * @example
 * ```ts
 * import Redis from 'ioredis';
 * import { cache, withMiddleware, sseTransport } from 'rxllm';
 * import { redisCacheStore } from 'rxllm/redis';
 *
 * const redis = new Redis(process.env.REDIS_URL!);
 * const answers = cache({ ttl: 10 * 60_000, store: redisCacheStore({ redis, prefix: 'myapp:llm:', maxEntryBytes: 256 * 1024 }) });
 * const llm = withMiddleware(sseTransport({ baseURL }), answers);
 * ```
 * @see cache
 */
export function redisCacheStore(config: RedisCacheStoreConfig): RedisCacheStore {
  const options = validateConfig('redisCacheStore', configSchema, config);
  const { redis, prefix, ttl: maxTtl, maxEntryBytes, timeout, scheduler } = options;
  const onError = options.onError ?? ((error: RxllmError) => console.warn(error.message));
  let tooLarge = 0;
  const calls = guardedCalls('redisCacheStore', redis, timeout, scheduler, onError, 'Answers are fetched upstream meanwhile.');
  const run = calls.run;

  const keyOf = (key: string): string => prefix + key;

  return {
    get: (key) =>
      run(`get ${keyOf(key)}`, async (): Promise<CacheEntry | undefined> => {
        const replies = await redis.pipeline().get(keyOf(key)).pttl(keyOf(key)).exec();
        const [[getError, raw], [pttlError, pttl]] = replies as [[Error | null, unknown], [Error | null, unknown]];
        if (getError) throw getError;
        if (pttlError) throw pttlError;
        // Gone, or expired between GET and PTTL, or somehow without an expiry (not written by us): a miss.
        if (typeof raw !== 'string' || typeof pttl !== 'number' || pttl <= 0) return undefined;
        const value = decode(raw, keyOf(key));
        const expiresAt = scheduler.now() + pttl;
        return { events: value.events, storedAt: expiresAt - value.ttl, expiresAt, bytes: value.bytes };
      }),
    set: (key, entry, ttlMs) => {
      const ttl = Math.max(1, Math.ceil(maxTtl === undefined ? ttlMs : Math.min(ttlMs, maxTtl)));
      const value: StoredValue = { v: 1, ttl, bytes: entry.bytes, events: [...entry.events] };
      const raw = JSON.stringify(value);
      if (Buffer.byteLength(raw, 'utf8') > maxEntryBytes) {
        tooLarge++;
        return Promise.resolve();
      }
      return run(`set ${keyOf(key)}`, async () => {
        await redis.set(keyOf(key), raw, 'PX', ttl);
      });
    },
    delete: (key) =>
      run(`delete ${keyOf(key)}`, async () => {
        await redis.unlink(keyOf(key));
      }),
    // Unbounded by `timeout`: a large prefix takes many SCAN rounds, and nobody's request waits on it.
    clear: () =>
      run(
        `clear ${prefix}*`,
        async () => {
          const pattern = `${escapeGlob(prefix)}*`;
          if (!redis.isCluster) return unlinkMatching(redis as Redis, pattern, (keys) => (redis as Redis).unlink(...keys));
          // Each master's keys, scanned on that master; each key unlinked alone through the Cluster client, which
          // sends it to its slot's node (a key can have moved since the scan saw it).
          const cluster = redis as Cluster;
          await Promise.all(cluster.nodes('master').map((node) => unlinkMatching(node, pattern, (keys) => Promise.all(keys.map((key) => cluster.unlink(key))))));
        },
        false,
      ),
    stats: () => ({ tooLarge, errors: calls.errors }),
  };
}

function decode(raw: string, key: string): StoredValue {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (cause) {
    throw new RxllmError('malformed-event', `redisCacheStore: the value under ${key} is not JSON; something else writes under this prefix. Give the store a prefix of its own.`, { cause, raw: raw.slice(0, 200) });
  }
  const parsed = storedValueSchema.safeParse(value);
  if (!parsed.success) {
    throw new RxllmError('malformed-event', `redisCacheStore: the value under ${key} is not a cached answer; something else writes under this prefix. Give the store a prefix of its own.`, { cause: parsed.error, raw: raw.slice(0, 200) });
  }
  // Frozen like the memory store's entries: every hit shares what cache() replays.
  return deepFreeze(value as StoredValue);
}

/** SCAN the keyspace of `redis` (one server) for `pattern`, `unlink` each batch found; resolves when the scan is done. */
function unlinkMatching(redis: Redis, pattern: string, unlink: (keys: string[]) => Promise<unknown>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const scan = redis.scanStream({ match: pattern, count: 500 });
    const pending: Promise<unknown>[] = [];
    let failure: { cause: unknown } | undefined;
    scan.on('data', (keys: string[]) => {
      // Handled at once, so a batch that fails before the scan ends is never an unhandled rejection.
      if (keys.length > 0) pending.push(unlink(keys).catch((cause: unknown) => (failure ??= { cause })));
    });
    scan.on('error', reject);
    scan.on('end', () => {
      void Promise.all(pending).then(() => (failure ? reject(failure.cause) : resolve()));
    });
  });
}

/** Escapes Redis glob characters, so a prefix such as `app[1]:` matches only itself. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (character) => `\\${character}`);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const field of Object.values(value)) deepFreeze(field);
  }
  return value;
}

const storedValueSchema = s.object({
  v: s.literal(1),
  ttl: s.number().positive(),
  bytes: s.number().min(0),
  events: s.array(s.object({ type: s.string() }).loose()),
});

const positiveInt = s.number().int().positive();
const configSchema = s.strictObject({
  redis: redisOrClusterSchema(['get', 'set', 'pttl', 'unlink', 'pipeline']).refine(
    (redis) => redis.isCluster || typeof (redis as Redis).scanStream === 'function',
    'expected an ioredis client with scanStream (`new Redis(url)` or `new Cluster(nodes)` from the ioredis package)',
  ),
  prefix: s.string().min(1, 'a non-empty key prefix, such as "myapp:llm:"'),
  ttl: positiveInt.optional(),
  maxEntryBytes: positiveInt,
  timeout: positiveInt.default(500),
  onError: functionSchema<(error: RxllmError) => void>('a function (error) => void').optional(),
  scheduler: schedulerSchema.default(() => asyncScheduler),
});
