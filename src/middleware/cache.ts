import {
  asyncScheduler,
  catchError,
  defer,
  from,
  map,
  type Observable,
  of,
  type SchedulerLike,
  switchMap,
  take,
  tap,
  timer,
} from 'rxjs';
import { z } from 'zod';
import type { CacheEntry, CacheStore, CacheStoreStats, MaybePromise } from '../cache/CacheStore.js';
import { createInFlightRegistry } from '../cache/InFlightRegistry.js';
import { memoryCacheStore } from '../cache/memoryCacheStore.js';
import type { RxllmError } from '../core/errors.js'; // for {@link} in the docs
import type { LlmEvent } from '../core/events.js';
import type { LlmRequest } from '../core/request.js';
import { isSampledRequest, requestKey, type RequestScope } from '../core/requestKey.js';
import type { Middleware, Transport } from '../core/transport.js';
import { validateConfig } from '../core/validateConfig.js';

/** Options for {@link cache}. */
export interface CacheConfig {
  /** How long a stored answer is served, in milliseconds of `scheduler` time. @defaultValue 300000 (5 minutes) */
  ttl?: number;
  /** Most answers the built-in store holds (not allowed with `store`). @defaultValue 1000 */
  maxEntries?: number;
  /** Most bytes (JSON length) the built-in store holds (not allowed with `store`). @defaultValue 67108864 (64 MiB) */
  maxBytes?: number;
  /**
   * Where answers are kept. @defaultValue a new {@link memoryCacheStore} per
   * `cache()` call, bounded by `maxEntries` and `maxBytes`
   */
  store?: CacheStore;
  /**
   * What separates callers who must never share an answer (tenant, credential
   * name, base URL); part of every key. Everything one `cache()` wraps shares
   * its answers, so use one `cache()` per endpoint and credential, and give each
   * its own scope whenever they share a store (Redis, or one memory store).
   * Ignored when `key` is given.
   * @defaultValue `{}`
   */
  scope?: RequestScope;
  /** Your own request key, replacing `requestKey(request, scope)`. */
  key?: (request: LlmRequest) => string;
  /**
   * Sampled requests ({@link isSampledRequest}: temperature above 0, unset, or
   * `n > 1`): `'share'` stores and serves them like any other, so a repeat
   * gets the same sample until the TTL passes; `'bypass'` never caches them.
   * A "regenerate" button wants a fresh sample: give it a request that differs
   * (a `seed`), or route it around the cache.
   * @defaultValue `'share'`
   */
  sampled?: 'share' | 'bypass';
  /**
   * Milliseconds between replayed events on a hit; 0 replays the whole answer
   * at once, synchronously. A pace makes a cached answer stream like a live one.
   * @defaultValue 0
   */
  replayInterval?: number;
  /** Clock for TTLs and the replay pace. @defaultValue `asyncScheduler` */
  scheduler?: SchedulerLike;
}

/** Counts kept by a {@link cache} middleware. Store counts are absent when the store does not report them. */
export interface CacheStats extends CacheStoreStats {
  /** Requests answered from the store. */
  hits: number;
  /** Requests that went upstream (concurrent misses of one key share one call). */
  misses: number;
  /** Sampled requests sent upstream uncached because `sampled` is `'bypass'`. */
  bypassed: number;
  /** Answers written to the store. */
  stored: number;
  /** Store calls that failed (each such lookup went upstream as a miss). */
  storeErrors: number;
}

/** The {@link cache} middleware, with its counts. */
export interface CacheMiddleware extends Middleware {
  stats(): CacheStats;
}

/**
 * Middleware: a repeated request is answered from a store (in memory by
 * default), replayed as the same stream of events, so streaming consumers and
 * UIs work unchanged.
 *
 * ```text
 * upstream:         --a--b--uf|
 * first request:    --a--b--uf|              (stored when it completes whole)
 * repeat at 14 ms:  14ms (abuf|)             (instant, no upstream subscription)
 * upstream subs:    ^---------!              (one)
 * paced repeat:     a 9ms b 9ms (f|)         (replayInterval: 10)
 * ```
 *
 * - **Stores only complete, successful answers**: the stream completed, every
 *   choice asked for (`n`) has a `finish` event, and no finish reason is
 *   `'error'`. A stream that errors, is cancelled or ends early is never
 *   stored, so it cannot be replayed as if it were whole.
 * - **Emits** on a hit the stored events (frozen, since every hit shares
 *   them), then completes; on a miss, the upstream's events as they arrive.
 * - **Errors** with the upstream on a miss. A failing store never fails a
 *   request: a lookup error is a miss, a write error is counted.
 * - **Unsubscribe** aborts the upstream call (when no concurrent identical
 *   miss still needs it) and the answer is not stored.
 * - **Cold.** Concurrent misses of one key share one upstream call and one
 *   write (single flight), reference-counted like {@link dedupe}.
 * - **Bounds**: entries expire `ttl` ms after they are stored (scheduler
 *   time); the built-in store holds at most `maxEntries` answers and
 *   `maxBytes` bytes, least recently used first out.
 *
 * **With `dedupe()`**: either order makes one upstream call and one write.
 * Prefer `withMiddleware(transport, dedupe(), cache())`: identical concurrent
 * requests collapse before the store is asked, so a network store (Redis)
 * gets one lookup per group instead of one per caller.
 *
 * @throws {@link RxllmError} `invalid-config` on a bad option, or when
 * `maxEntries`/`maxBytes` come with your own `store` (bound it yourself).
 *
 * @example
 * ```ts
 * const answers = cache({ ttl: 10 * 60_000, maxEntries: 500, scope: { tenant } });
 * const llm = withMiddleware(sseTransport({ baseURL }), dedupe({ scope: { tenant } }), answers);
 * llm(request).pipe(textSoFar()).subscribe(render); // second time: instant, from memory
 * answers.stats(); // { hits, misses, bypassed, stored, storeErrors, entries, bytes, evictions }
 * ```
 * @see dedupe
 * @see memoryCacheStore
 */
export function cache(config: CacheConfig = {}): CacheMiddleware {
  const options = validateConfig('cache', configSchema, config);
  const { ttl, scope, sampled, replayInterval } = options;
  const scheduler = options.scheduler ?? asyncScheduler;
  const store = options.store ?? memoryCacheStore({ maxEntries: options.maxEntries, maxBytes: options.maxBytes });
  const keyOf = options.key ?? ((request: LlmRequest) => requestKey(request, scope));
  const counts = { hits: 0, misses: 0, bypassed: 0, stored: 0, storeErrors: 0 };
  // Answers handed to an async store and not yet confirmed: served from here meanwhile,
  // so a repeat arriving during the write is a hit rather than a second upstream call.
  const writing = new Map<string, CacheEntry>();
  // Single flight for misses: the first miss of a key records, concurrent ones join it.
  const recordings = createInFlightRegistry();

  const call = <T>(operation: () => MaybePromise<T>): Observable<T> =>
    defer(() => {
      const value = operation();
      return isPromiseLike(value) ? from(value) : of(value);
    });

  const fresh = (entry: CacheEntry | undefined): entry is CacheEntry => entry !== undefined && entry.expiresAt > scheduler.now();

  const lookup = (key: string): Observable<CacheEntry | undefined> => {
    const pending = writing.get(key);
    if (fresh(pending)) return of(pending);
    return call(() => store.get(key)).pipe(
      // A store that cannot answer is a miss, never a failed request.
      catchError(() => {
        counts.storeErrors++;
        return of(undefined);
      }),
      tap((entry) => {
        if (entry && !fresh(entry)) background(() => store.delete(key));
      }),
    );
  };

  // Fire-and-forget store calls still get an error handler: nothing goes unhandled.
  const background = (operation: () => MaybePromise<void>, onDone?: (ok: boolean) => void): void => {
    call(operation).subscribe({
      complete: () => onDone?.(true),
      error: () => {
        counts.storeErrors++;
        onDone?.(false);
      },
    });
  };

  const save = (key: string, events: readonly LlmEvent[]): void => {
    const json = JSON.stringify(events);
    const now = scheduler.now();
    // A frozen copy: the caller that streamed these events may still mutate its own objects.
    const entry: CacheEntry = { events: deepFreeze(JSON.parse(json) as LlmEvent[]), storedAt: now, expiresAt: now + ttl, bytes: json.length };
    writing.set(key, entry);
    background(
      () => store.set(key, entry, ttl),
      (ok) => {
        if (writing.get(key) === entry) writing.delete(key);
        if (ok) counts.stored++;
      },
    );
  };

  // Per run: collect every event and store the answer only if it completed whole.
  const record = (key: string, request: LlmRequest, source: Observable<LlmEvent>): Observable<LlmEvent> =>
    defer(() => {
      const events: LlmEvent[] = [];
      return source.pipe(
        tap({
          next: (event) => events.push(event),
          complete: () => {
            if (isWholeAnswer(events, request.n ?? 1)) save(key, events);
          },
        }),
      );
    });

  const replay = (events: readonly LlmEvent[]): Observable<LlmEvent> =>
    replayInterval === 0
      ? from(events)
      : timer(0, replayInterval, scheduler).pipe(
          take(events.length),
          map((index) => events[index]!),
        );

  const middleware: Middleware = (next: Transport): Transport => (request, context) =>
    defer(() => {
      if (sampled === 'bypass' && isSampledRequest(request)) {
        counts.bypassed++;
        return next(request, context);
      }
      const key = keyOf(request);
      return lookup(key).pipe(
        switchMap((entry) => {
          if (entry && fresh(entry)) {
            counts.hits++;
            return replay(entry.events);
          }
          counts.misses++;
          return recordings.join(key, () => record(key, request, next(request, context)));
        }),
      );
    });

  return Object.assign(middleware, {
    stats: (): CacheStats => ({ ...counts, ...store.stats?.() }),
  });
}

/** Complete and successful: every choice asked for (and every choice seen) finished, none with reason "error". */
function isWholeAnswer(events: readonly LlmEvent[], choices: number): boolean {
  const finished = new Set<number>();
  const seen = new Set<number>();
  for (const event of events) {
    if (event.type === 'finish') {
      if (event.reason === 'error') return false;
      finished.add(event.choice);
    } else if (event.type !== 'usage') seen.add(event.choice);
  }
  for (let choice = 0; choice < choices; choice++) if (!finished.has(choice)) return false;
  for (const choice of seen) if (!finished.has(choice)) return false;
  return true;
}

function isPromiseLike<T>(value: MaybePromise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const field of Object.values(value)) deepFreeze(field);
  }
  return value;
}

const positiveInt = z.number().int().positive();
const configSchema = z
  .strictObject({
    ttl: z.number().positive().default(5 * 60_000),
    maxEntries: positiveInt.optional(),
    maxBytes: positiveInt.optional(),
    store: z
      .custom<CacheStore>(
        (value) =>
          typeof value === 'object' &&
          value !== null &&
          ['get', 'set', 'delete'].every((method) => typeof (value as Record<string, unknown>)[method] === 'function'),
        'expected a CacheStore (an object with get, set and delete methods)',
      )
      .optional(),
    scope: z.union([z.string(), z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.undefined()]))]).default({}),
    key: z.custom<(request: LlmRequest) => string>((value) => typeof value === 'function', 'expected a function').optional(),
    sampled: z.enum(['share', 'bypass']).default('share'),
    replayInterval: z.number().min(0).default(0),
    scheduler: z
      .custom<SchedulerLike>(
        (value) => typeof value === 'object' && value !== null && typeof (value as SchedulerLike).now === 'function',
        'expected a SchedulerLike',
      )
      .optional(),
  })
  .refine((config) => config.store === undefined || (config.maxEntries === undefined && config.maxBytes === undefined), {
    message: '`maxEntries` and `maxBytes` bound the built-in store; with your own `store`, bound it yourself',
  });

