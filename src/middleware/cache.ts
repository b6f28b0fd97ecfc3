import { asyncScheduler, defer, from, map, Observable, of, type SchedulerLike, type Subscriber, type Subscription, take, timer } from 'rxjs';
import * as s from '../internal/check.js';
import { Relay } from '../internal/Relay.js';
import type { CacheEntry, CacheStore, CacheStoreStats, MaybePromise } from '../cache/CacheStore.js';
import { createInFlightRegistry, type InFlightRegistry } from '../cache/InFlightRegistry.js';
import { memoryCacheStore } from '../cache/memoryCacheStore.js';
import type { RequestContext } from '../core/context.js';
import { RxllmError } from '../core/errors.js';
import type { LlmEvent } from '../core/events.js';
import { type LlmRequest, parseRequest } from '../core/request.js';
import { isSampledRequest, requestKey, type RequestScope, scopeOf } from '../core/requestKey.js';
import type { Middleware, Transport } from '../core/transport.js';
import { functionSchema, inFlightRegistrySchema, schedulerSchema, validateConfig } from '../core/validateConfig.js';

/** Options for {@link cache}. */
export interface CacheConfig {
  /** How long a stored answer is served, in milliseconds of `scheduler` time. @defaultValue 300000 (5 minutes) */
  ttl?: number;
  /** Most answers the built-in store holds (not allowed with `store`). @defaultValue 1000 */
  maxEntries?: number;
  /** Most bytes (JSON length) the built-in store holds (not allowed with `store`). @defaultValue 67108864 (64 MiB) */
  maxBytes?: number;
  /**
   * Where answers are kept: a store you made (`memoryCacheStore()`, a Redis
   * store) and can reach yourself; {@link CacheMiddleware.store} is it too.
   * Every `cache()` that shares a store shares its answers: keep tenants apart
   * with the request context's `scope` attribute.
   * @defaultValue a new {@link memoryCacheStore} per `cache()` call, bounded
   * by `maxEntries` and `maxBytes`
   */
  store?: CacheStore;
  /**
   * Your own request key, replacing {@link requestKey}: given the request and
   * the scope of its context (its `scope` attribute, `{}` when unset). Example,
   * to share answers across end users on purpose (never across scopes):
   * `(r, scope) => requestKey({ ...r, user: undefined }, scope)`; to keep two
   * endpoints apart in one shared store: `(r, scope) => requestKey(r, { scope, endpoint: 'azure' })`.
   * @defaultValue {@link requestKey}
   */
  key?: (request: LlmRequest, scope: RequestScope) => string;
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
  /**
   * Where lookups-and-upstream-calls in flight are shared: a registry you made, such as
   * `redisInFlight({ redis, prefix })` from `rxllm/redis`, so that a miss on several instances at once is one
   * upstream call whose events every instance streams.
   * @defaultValue a new in-process registry per `cache()` call
   */
  registry?: InFlightRegistry;
}

/** Counts kept by a {@link cache} middleware. Store counts are absent when the store does not report them. */
export interface CacheStats extends CacheStoreStats {
  /** Lookups answered from the store (each shared by every request that joined it). */
  hits: number;
  /** Lookups that missed and went upstream (each one upstream call, however many requests joined it). */
  misses: number;
  /** Requests that joined an identical one already in flight (looking up or upstream) instead of starting their own. */
  joined: number;
  /** Sampled requests sent upstream uncached because `sampled` is `'bypass'`. */
  bypassed: number;
  /** Answers written to the store. */
  stored: number;
  /** Store calls that failed (each such lookup went upstream as a miss). */
  storeErrors: number;
}

/** The {@link cache} middleware, with its counts, its store, and ways to forget answers. */
export interface CacheMiddleware extends Middleware {
  /** The counts so far, as a fresh snapshot on each call. */
  stats(): CacheStats;
  /** The store answers are kept in: the one given as `store`, else the built-in memory store. */
  readonly store: CacheStore;
  /**
   * Forgets the answer to `request` (with the same key as a lookup: the
   * `scope` attribute of `context` included), in the store and in memory. An
   * identical request already in flight still answers the callers that share
   * it, but its answer is not stored. Resolves when the store has deleted it;
   * rejects with the store's error, or `invalid-request` for a request that
   * is not valid (no network call is ever made).
   */
  delete(request: LlmRequest, context?: RequestContext): Promise<void>;
  /**
   * Forgets every answer: clears the store (its `clear()`) and what is being
   * written; answers in flight now are not stored. Resolves when the store is
   * clear; rejects with `invalid-config` when the store has no `clear()`
   * (delete keys one by one with {@link CacheMiddleware.delete}), or with the
   * store's error.
   */
  clear(): Promise<void>;
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
 *   stored, so it cannot be replayed as if it were whole. The stream holds
 *   only the model's events (nothing a middleware adds), so a hit replays the
 *   answer and nothing about the run that made it.
 * - **Emits** on a hit the stored events (frozen, since every hit shares
 *   them), then completes; on a miss, the upstream's events as they arrive.
 * - **Errors** with the upstream on a miss. A failing store never fails a
 *   request: a lookup error is a miss, a write error is counted.
 * - **Unsubscribe** aborts the upstream call (when no concurrent identical
 *   request still needs it) and the answer is not stored.
 * - **Cold; single flight.** Concurrent identical requests share one lookup,
 *   one upstream call and one write: the in-flight registry {@link dedupe}
 *   uses, reference-counted the same way (a late joiner gets the events so
 *   far, then the live rest; the call is aborted when its last caller
 *   leaves). So `dedupe()` is not needed in front of `cache()`; the two
 *   compose in either order. A hit a synchronous store (the built-in one)
 *   gives at once replays without a flight: there is nothing to share.
 * - **Keys**: {@link requestKey} of the request and its context's `scope`
 *   attribute (`{}` when unset). The rest of the context (step, lane,
 *   deadline) changes no key: the same question from another lane is a hit.
 *   The shared call goes upstream with its first caller's context.
 * - **Bounds**: entries expire `ttl` ms after they are stored (scheduler
 *   time); the built-in store holds at most `maxEntries` answers and
 *   `maxBytes` bytes, least recently used first out.
 * - **Forgetting**: {@link CacheMiddleware.delete} one request's answer,
 *   {@link CacheMiddleware.clear} all of them; {@link CacheMiddleware.store}
 *   is the store itself.
 *
 * @throws {@link RxllmError} `invalid-config` on a bad option, or when
 * `maxEntries`/`maxBytes` come with your own `store` (bound it yourself).
 *
 * @example
 * ```ts
 * const answers = cache({ ttl: 10 * 60_000, store: memoryCacheStore({ maxEntries: 500 }) });
 * const llm = withMiddleware(sseTransport({ baseURL }), answers);
 * llm(request, { attributes: { scope: tenant } }).pipe(textSoFar()).subscribe(render); // second time: instant, from memory
 * answers.stats(); // { hits, misses, joined, bypassed, stored, storeErrors, entries, bytes, evictions }
 * await answers.delete(request, { attributes: { scope: tenant } }); // the next one asks the model again
 * ```
 * @see dedupe
 * @see memoryCacheStore
 */
export function cache(config: CacheConfig = {}): CacheMiddleware {
  const options = validateConfig('cache', configSchema, config);
  const { ttl, sampled, replayInterval, scheduler } = options;
  const store = options.store ?? memoryCacheStore({ maxEntries: options.maxEntries, maxBytes: options.maxBytes });
  const keyOf = options.key ?? requestKey;
  const counts = { hits: 0, misses: 0, joined: 0, bypassed: 0, stored: 0, storeErrors: 0 };
  // Answers handed to an async store and not yet confirmed: served from here meanwhile,
  // so a repeat arriving during the write is a hit rather than a second upstream call.
  const writing = new Map<string, CacheEntry>();
  // Single flight: the first request of a key looks up and, on a miss, goes upstream; identical ones join it.
  const flights = options.registry ?? createInFlightRegistry();
  // The flight of each key now, so delete() and clear() can keep an answer asked before them out of the store.
  const current = new Map<string, Flight>();

  const call = <T>(operation: () => MaybePromise<T>): Observable<T> =>
    defer(() => {
      const value = operation();
      return isPromiseLike(value) ? from(value) : of(value);
    });

  const fresh = (entry: CacheEntry | undefined): entry is CacheEntry => entry !== undefined && entry.expiresAt > scheduler.now();

  // What the store holds for a key: synchronously when it answers synchronously (the built-in store), so a hit
  // replays in the same tick. A store that cannot answer is a miss, never a failed request.
  const read = (key: string): MaybePromise<CacheEntry | undefined> => {
    const pending = writing.get(key);
    if (fresh(pending)) return pending;
    const dropExpired = (entry: CacheEntry | undefined): CacheEntry | undefined => {
      if (entry && !fresh(entry)) background(() => store.delete(key));
      return entry;
    };
    let found: MaybePromise<CacheEntry | undefined>;
    try {
      found = store.get(key);
    } catch {
      counts.storeErrors++;
      return undefined;
    }
    if (!isPromiseLike(found)) return dropExpired(found);
    return found.then(dropExpired, () => {
      counts.storeErrors++;
      return undefined;
    });
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

  const save = (key: string, answer: StoredAnswer): void => {
    const now = scheduler.now();
    const entry: CacheEntry = { events: answer.events, storedAt: now, expiresAt: now + ttl, bytes: answer.bytes };
    writing.set(key, entry);
    background(
      () => store.set(key, entry, ttl),
      (ok) => {
        if (writing.get(key) === entry) writing.delete(key);
        if (ok) counts.stored++;
      },
    );
  };

  // Passes every event on and records it; stores the answer only if it completed whole and was not forgotten
  // meanwhile. One observer, not a tap() operator: every token of a miss passes through here.
  const record = (key: string, flight: Flight, request: LlmRequest, subscriber: Subscriber<LlmEvent>, next: Transport, context: RequestContext | undefined): Subscription =>
    next(request, context).subscribe(
      new Recording(subscriber, (events) => {
        if (flight.forgotten) return;
        const answer = storedAnswer(events, request.n ?? 1);
        if (answer) save(key, answer);
      }),
    );

  const replay = (events: readonly LlmEvent[]): Observable<LlmEvent> =>
    replayInterval === 0
      ? from(events)
      : timer(0, replayInterval, scheduler).pipe(
          take(events.length),
          map((index) => events[index]!),
        );

  // One flight of a key, shared by identical requests: wait for the lookup (`found`); replay a fresh hit, else go
  // upstream and record. Written out rather than from(found).pipe(switchMap(...), finalize(...)): on a miss every
  // token would pass through both operators.
  const fly = (
    key: string,
    found: MaybePromise<CacheEntry | undefined>,
    request: LlmRequest,
    context: RequestContext | undefined,
    next: Transport,
  ): Observable<LlmEvent> =>
    new Observable<LlmEvent>((subscriber) => {
      const flight: Flight = { forgotten: false };
      current.set(key, flight);
      subscriber.add(() => {
        if (current.get(key) === flight) current.delete(key);
      });
      const answer = (entry: CacheEntry | undefined): void => {
        if (fresh(entry) && !flight.forgotten) {
          counts.hits++;
          subscriber.add(replay(entry.events).subscribe(subscriber));
          return;
        }
        counts.misses++;
        subscriber.add(record(key, flight, request, subscriber, next, context));
      };
      if (!isPromiseLike(found)) {
        answer(found);
        return;
      }
      found.then(
        (entry) => {
          if (subscriber.closed) return; // every caller left during the lookup: nothing is sent
          try {
            answer(entry);
          } catch (error: unknown) {
            subscriber.error(error); // a transport that throws instead of returning a stream
          }
        },
        (error: unknown) => subscriber.error(error),
      );
    });

  const middleware: Middleware = (next: Transport): Transport => (request, context) =>
    defer(() => {
      if (sampled === 'bypass' && isSampledRequest(request)) {
        counts.bypassed++;
        return next(request, context);
      }
      const key = keyOf(request, scopeOf(context));
      if (flights.has(key)) {
        counts.joined++;
        return flights.join(key, () => fly(key, read(key), request, context, next));
      }
      const found = read(key);
      // A hit the store gave synchronously replays at once, with nothing to share: no flight (the fast path).
      if (!isPromiseLike(found) && fresh(found)) {
        counts.hits++;
        return replay(found.events);
      }
      return flights.join(key, () => fly(key, found, request, context, next));
    });

  // Forgets what this instance holds for a key (or every key): pending writes, and the answers of flights now.
  const forget = (key?: string): void => {
    if (key === undefined) {
      writing.clear();
      for (const flight of current.values()) flight.forgotten = true;
      return;
    }
    writing.delete(key);
    const flight = current.get(key);
    if (flight) flight.forgotten = true;
  };
  // Runs a store call as a Promise, a synchronous throw included.
  const settle = (operation: () => MaybePromise<void>): Promise<void> => new Promise<void>((resolve) => resolve(operation()));

  return Object.assign(middleware, {
    stats: (): CacheStats => ({ ...counts, ...store.stats?.() }),
    store,
    delete: (request: LlmRequest, context?: RequestContext): Promise<void> =>
      settle(() => {
        const key = keyOf(parseRequest(request), scopeOf(context));
        forget(key);
        return store.delete(key);
      }),
    clear: (): Promise<void> =>
      settle(() => {
        forget();
        if (typeof store.clear !== 'function') {
          throw new RxllmError(
            'invalid-config',
            'cache().clear(): this store has no clear() method. Give the store one, or forget answers one by one with cache().delete(request, context).',
          );
        }
        return store.clear();
      }),
  });
}

/** One lookup-and-maybe-upstream run of a key; `forgotten` once delete() or clear() ran during it. */
interface Flight {
  forgotten: boolean;
}

/** What `cache()` stores of a whole answer: frozen copies of its events and the length of their JSON text. */
interface StoredAnswer {
  events: readonly LlmEvent[];
  bytes: number;
}

/**
 * The answer to store, built once when the stream completes, or `undefined` when it is not complete and
 * successful: every choice asked for (and every choice seen) finished, none with reason "error".
 *
 * One pass over the recorded events, which are the caller's own objects (it may still mutate them): each is
 * copied and frozen (every hit shares the copies), and its JSON length summed, so that `bytes` is exactly
 * `JSON.stringify(events).length` without building that text. Text-like and finish events, nearly all of an
 * answer, take a fast path of their own shape (no JSON round trip: 2000 tokens cost about a tenth as much);
 * anything else (usage, tool calls, an event with fields of its own) is copied through JSON as before.
 */
function storedAnswer(events: readonly LlmEvent[], choices: number): StoredAnswer | undefined {
  const finished = new Set<number>();
  const seen = new Set<number>();
  let lastSeen: number | undefined; // nearly every event is of the same choice as the one before: one Set.add per run
  const copies: LlmEvent[] = new Array<LlmEvent>(events.length);
  let bytes = events.length === 0 ? 2 : events.length + 1; // the brackets and the commas
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    const type = event.type;
    if (type === 'finish') {
      if (event.reason === 'error') return undefined;
      finished.add(event.choice);
    } else if (type !== 'usage' && event.choice !== lastSeen) {
      lastSeen = event.choice;
      seen.add(lastSeen);
    }
    const fastBytes = copyFast(event, copies, i);
    if (fastBytes >= 0) bytes += fastBytes;
    else {
      const json = JSON.stringify(event);
      copies[i] = deepFreeze(JSON.parse(json) as LlmEvent);
      bytes += json.length;
    }
  }
  for (let choice = 0; choice < choices; choice++) if (!finished.has(choice)) return undefined;
  for (const choice of seen) if (!finished.has(choice)) return undefined;
  return { events: copies, bytes };
}

/**
 * Puts a frozen copy of a text, reasoning, refusal or finish event with no other fields at `copies[at]` and
 * returns its JSON length; returns -1 (and copies nothing) for any other event.
 */
function copyFast(event: LlmEvent, copies: LlmEvent[], at: number): number {
  const { type, choice } = event;
  if (!Number.isInteger(choice) || ownFieldCount(event) !== 3) return -1;
  // {"type":…,"choice":…,"text":…}: 8 + 10 + 8 + 1 characters of punctuation and names.
  if (type === 'text' || type === 'reasoning' || type === 'refusal') {
    const text = event.text;
    if (typeof text !== 'string') return -1;
    copies[at] = Object.freeze({ type, choice, text });
    return 27 + jsonStringLength(type) + String(choice).length + jsonStringLength(text);
  }
  // {"type":"finish","choice":…,"reason":…}: 8 + 10 + 10 + 1, and the type's 8.
  if (type === 'finish') {
    const reason = event.reason;
    if (typeof reason !== 'string') return -1;
    copies[at] = Object.freeze({ type, choice, reason });
    return 37 + String(choice).length + jsonStringLength(reason);
  }
  return -1;
}

function ownFieldCount(value: object): number {
  let count = 0;
  for (const field in value) if (Object.prototype.hasOwnProperty.call(value, field)) count++;
  return count;
}

// What JSON.stringify escapes in a string: quotes, backslashes, control characters, and (well-formed
// JSON.stringify) lone surrogates; a string with any of them is measured by JSON.stringify itself.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** `JSON.stringify(text).length`, without building the text when nothing in it needs escaping. */
function jsonStringLength(text: string): number {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text).length : text.length + 2;
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

const positiveInt = s.number().int().positive();
const configSchema = s
  .strictObject({
    ttl: s.number().positive().default(5 * 60_000),
    maxEntries: positiveInt.optional(),
    maxBytes: positiveInt.optional(),
    store: s
      .custom<CacheStore>(
        (value) =>
          typeof value === 'object' &&
          value !== null &&
          ['get', 'set', 'delete'].every((method) => typeof (value as Record<string, unknown>)[method] === 'function'),
        'expected a CacheStore (an object with get, set and delete methods)',
      )
      .optional(),
    key: functionSchema<(request: LlmRequest, scope: RequestScope) => string>('a function (request, scope) => string').optional(),
    sampled: s.oneOf(['share', 'bypass']).default('share'),
    replayInterval: s.number().min(0).default(0),
    scheduler: schedulerSchema.default(() => asyncScheduler),
    registry: inFlightRegistrySchema<InFlightRegistry>().optional(),
  })
  .refine((config) => config.store === undefined || (config.maxEntries === undefined && config.maxBytes === undefined), {
    message: '`maxEntries` and `maxBytes` bound the built-in store; with your own `store`, bound it yourself',
  });

/**
 * The observer of a miss: passes every event on and keeps it, and hands the whole answer to `completed` just
 * before the completion goes on. A Relay: every token of a miss passes here (see Relay for why not a
 * partial observer).
 */
class Recording extends Relay<LlmEvent, LlmEvent> {
  private readonly events: LlmEvent[] = [];

  constructor(
    destination: Subscriber<LlmEvent>,
    private readonly completed: (events: LlmEvent[]) => void,
  ) {
    super(destination);
  }

  next(event: LlmEvent): void {
    if (this.closed) return;
    this.events.push(event);
    this.destination.next(event);
  }

  override complete(): void {
    if (this.closed) return;
    this.completed(this.events);
    super.complete();
  }
}
