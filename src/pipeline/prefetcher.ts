import {
  asyncScheduler,
  catchError,
  defer,
  finalize,
  type Observable,
  ReplaySubject,
  type SchedulerLike,
  Subscription,
  tap,
  throwError,
  timeout,
  timer,
} from 'rxjs';
import * as s from '../internal/check.js';
import type { RequestContext } from '../core/context.js';
import { RxllmError } from '../core/errors.js';
import type { LlmEvent } from '../core/events.js';
import type { LlmRequest } from '../core/request.js';
import { requestKey } from '../core/requestKey.js';
import type { Transport } from '../core/transport.js';
import { functionSchema, schedulerSchema, transportSchema, validateConfig } from '../core/validateConfig.js';

/** Options for {@link prefetcher}. */
export interface PrefetcherConfig {
  /** Sends prefetches and fall-through requests (with whatever middleware you gave it). */
  transport: Transport;
  /**
   * How long an untaken prefetch lives, in milliseconds of `scheduler` time
   * from when it started; then it is aborted (if still running) and freed.
   * @defaultValue 30000
   */
  ttl?: number;
  /** Most prefetches held; starting one more evicts (and aborts) the oldest. @defaultValue 100 */
  maxEntries?: number;
  /** Clock for TTLs, take timeouts and latency figures. @defaultValue `asyncScheduler` */
  scheduler?: SchedulerLike;
  /**
   * Your own request key, replacing {@link requestKey}. No scope is needed:
   * a prefetcher's entries are its own, sent through its one transport.
   */
  key?: (request: LlmRequest) => string;
}

/** Options for {@link Prefetcher.take}. */
export interface TakeOptions {
  /**
   * Milliseconds to wait for the prefetch's first event when none has arrived
   * yet; then the prefetch is aborted and the request is sent afresh.
   * @defaultValue no limit
   */
  timeout?: number;
  /** For a named key: the request to send on a miss (otherwise the one given to `prefetch`, if it is still held). */
  request?: LlmRequest;
  /**
   * The context to send a miss with (`{ step }`, a lane, a deadline). A hit
   * was sent with the context given to `prefetch`, which is also the
   * default for a miss while that prefetch is still held.
   */
  context?: RequestContext;
}

/** Counts kept by a {@link prefetcher}. */
export interface PrefetchStats {
  /** Prefetches started. */
  started: number;
  /** Takes answered from a prefetch (counted at the first event it delivered). */
  hits: number;
  /** Takes that fell through to a normal request: nothing held, failed, or timed out. */
  misses: number;
  /** Prefetches that ended without serving a take: expired, evicted, failed, timed out or cleared. */
  wasted: number;
  /**
   * Total milliseconds of request time saved by hits: for each, how long the
   * prefetch had been running when taken, up to its whole duration.
   */
  latencySavedMs: number;
  /** Prefetches held now (running or finished, not yet taken). */
  held: number;
}

/**
 * Runs likely next requests ahead of demand and hands their answers over
 * when asked. Made by {@link prefetcher}.
 */
export interface Prefetcher {
  /**
   * Starts `request` now, **hot**, under its request key (or under `name`),
   * unless one is already held for that key (a failed one is restarted).
   * Returns the key. Its errors are captured for `take` and never thrown or
   * reported as unhandled. `context` is sent beside the request
   * (`transport(request, context)`), so a prefetch can be counted under the
   * step it is for (`{ step: 'keywords' }`) or sent in a background lane; it
   * is not part of the key.
   */
  prefetch(request: LlmRequest, context?: RequestContext): string;
  /** Starts `request` now, **hot**, held under `name` instead of its request key: `take(name)` hands it over. */
  prefetch(name: string, request: LlmRequest, context?: RequestContext): string;
  /**
   * The answer for a request (or a named prefetch), as events: cold, starts on
   * subscribe.
   *
   * A held prefetch is handed over (taken once): what has arrived is replayed
   * and the rest follows live; a finished one answers at once. From then on the
   * taker owns it: unsubscribing aborts it. When nothing is held, the held one
   * failed, or `timeout` passes before its first event, the request is sent as
   * a normal one, so the caller always gets an answer or a real error. A
   * prefetch that fails after delivering events passes the error on (sending
   * the request again would repeat the text already shown).
   *
   * Errors `invalid-request` when a named key has nothing held and no request
   * to fall back on (`options.request`). Throws `invalid-config` at once when
   * `timeout` is not a number ≥ 0. A request sent afresh carries
   * `options.context`, else the held prefetch's context.
   */
  take(request: LlmRequest, options?: Omit<TakeOptions, 'request'>): Observable<LlmEvent>;
  /** The answer for a named prefetch, as events; with `options.request`, sent afresh when nothing is held under `name`. */
  take(name: string, options?: TakeOptions): Observable<LlmEvent>;
  /** True when a prefetch is held for the request or name. */
  has(keyOrRequest: string | LlmRequest): boolean;
  /** Aborts and frees every held prefetch (counted as wasted) and cancels their TTL timers. */
  clear(): void;
  /** The counts so far, as a fresh snapshot on each call. */
  stats(): PrefetchStats;
}

/**
 * A prefetcher: start a likely follow-up request before the user asks
 * (`prefetch`), and answer from it when they do (`take`).
 *
 * **Hot, and not reference-counted**: a prefetch runs from the moment
 * `prefetch` is called, with no subscriber, and lives until it is taken or its
 * TTL passes (then it is aborted: the server sees the request cancelled); the
 * oldest is evicted beyond `maxEntries`. Once taken it belongs to its taker
 * and ends when the taker unsubscribes. Memory: one answer's events per held
 * prefetch.
 *
 * ```text
 * prefetch(r) at 0:  upstream ^--a--b--|            (starts now, no subscriber)
 * take(r) at 4:      result       ab--|             (replay a and b, then live)
 * take(r) at 12:     result              (ab|)     (finished: at once)
 * untaken:           upstream ^------------!        (aborted at ttl)
 * ```
 *
 * Timers: each held prefetch has a TTL timer on `scheduler`. In Node it keeps
 * the process alive until the TTL; call `clear()` on shutdown. In Angular, pass
 * a scheduler that runs outside the zone so pending prefetches don't hold the
 * app unstable.
 *
 * @throws {@link RxllmError} `invalid-config` on a bad option.
 *
 * @example
 * ```ts
 * const ahead = prefetcher({ transport: llm, ttl: 60_000 });
 * summary$.subscribe(() => ahead.prefetch('likely_followup_keywords', keywordsRequest(text), { step: 'keywords', lane: 'background' }));
 * // later, when the user clicks "keywords":
 * ahead.take('likely_followup_keywords', { timeout: 2_000, request: keywordsRequest(text) })
 *   .pipe(textSoFar())
 *   .subscribe(render);
 * ```
 * @see prefetchWhen
 */
export function prefetcher(config: PrefetcherConfig): Prefetcher {
  const { transport, ttl, maxEntries, key } = validateConfig('prefetcher', configSchema, config);
  const scheduler = config.scheduler ?? asyncScheduler;
  const keyOf = key ?? ((request: LlmRequest) => requestKey(request, {}));
  const entries = new Map<string, Entry>();
  const counts = { started: 0, hits: 0, misses: 0, wasted: 0, latencySavedMs: 0 };

  const resolve = (keyOrRequest: string | LlmRequest) =>
    typeof keyOrRequest === 'string' ? { id: keyOrRequest, request: undefined } : { id: keyOf(keyOrRequest), request: keyOrRequest };

  // An entry leaves the map exactly once: here (unserved) or in take (handed over).
  const drop = (entry: Entry): void => {
    if (entries.get(entry.id) !== entry) return;
    entries.delete(entry.id);
    entry.expiry.unsubscribe();
    entry.upstream.unsubscribe();
    counts.wasted++;
  };

  function prefetch(keyOrRequest: string | LlmRequest, second?: LlmRequest | RequestContext, third?: RequestContext): string {
    const { id, request: own } = resolve(keyOrRequest);
    // prefetch(request, context?) or prefetch(name, request, context?).
    const request = own ?? (second as LlmRequest | undefined);
    const context = own ? (second as RequestContext | undefined) : third;
    if (request === undefined) {
      throw new RxllmError('invalid-request', `prefetcher.prefetch("${id}"): a named prefetch needs its request: prefetch(name, request).`);
    }
    const held = entries.get(id);
    if (held && held.state !== 'failed') return id;
    if (held) drop(held);
    const oldest = entries.values().next();
    if (entries.size >= maxEntries && !oldest.done) drop(oldest.value);

    const entry: Entry = {
      id,
      request,
      context,
      events: new ReplaySubject<LlmEvent>(),
      state: 'running',
      startedAt: scheduler.now(),
      upstream: Subscription.EMPTY,
      expiry: Subscription.EMPTY,
    };
    // In the map before subscribing, so a source that ends synchronously finds it.
    entries.set(id, entry);
    counts.started++;
    entry.expiry = timer(ttl, scheduler).subscribe(() => drop(entry));
    // Every outcome is recorded on the entry; the subject keeps an error for a
    // taker and, with nobody subscribed, reports it nowhere.
    entry.upstream = defer(() => transport(request, context)).subscribe({
      next: (event) => entry.events.next(event),
      error: (error: unknown) => {
        entry.state = 'failed';
        entry.events.error(error);
      },
      complete: () => {
        entry.state = 'done';
        entry.finishedAt = scheduler.now();
        entry.events.complete();
      },
    });
    return id;
  }

  function take(keyOrRequest: string | LlmRequest, options: TakeOptions = {}): Observable<LlmEvent> {
    if (options.timeout !== undefined && !(Number.isFinite(options.timeout) && options.timeout >= 0)) {
      throw new RxllmError('invalid-config', `prefetcher.take(): \`timeout\` must be a number of milliseconds ≥ 0, got ${String(options.timeout)}.`);
    }
    return defer(() => {
      const { id, request: own } = resolve(keyOrRequest);
      const entry = entries.get(id);
      const fallback = own ?? options.request ?? entry?.request;
      const context = options.context ?? entry?.context;
      const sendAfresh = (): Observable<LlmEvent> => {
        counts.misses++;
        if (fallback) return transport(fallback, context);
        return throwError(
          () =>
            new RxllmError(
              'invalid-request',
              `prefetcher.take("${id}"): no prefetch is held under this name (never started, already taken, expired or evicted) and there is no request to fall back on: pass take(name, { request }).`,
            ),
        );
      };
      if (!entry || entry.state === 'failed') {
        if (entry) drop(entry);
        return sendAfresh();
      }

      // Handed over: the taker owns it now, so no TTL, and its unsubscribe aborts it.
      entries.delete(id);
      entry.expiry.unsubscribe();
      const takenAt = scheduler.now();
      let served = false;
      const serve = () => {
        if (served) return;
        served = true;
        counts.hits++;
        counts.latencySavedMs += Math.min(takenAt, entry.finishedAt ?? takenAt) - entry.startedAt;
      };
      const handedOver = entry.events.pipe(
        options.timeout === undefined
          ? (events: Observable<LlmEvent>) => events
          : timeout({ first: options.timeout, scheduler, with: () => throwError(() => TIMED_OUT) }),
        tap({ next: serve, complete: serve }),
        finalize(() => entry.upstream.unsubscribe()),
      );
      return handedOver.pipe(
        catchError((error: unknown) => {
          if (served) return throwError(() => error);
          // Failed or timed out before anything reached the caller: sending afresh cannot repeat text.
          counts.wasted++;
          return sendAfresh();
        }),
      );
    });
  }

  return {
    prefetch: prefetch as Prefetcher['prefetch'],
    take: take as Prefetcher['take'],
    has: (keyOrRequest) => entries.has(resolve(keyOrRequest).id),
    clear: () => {
      for (const entry of [...entries.values()]) drop(entry);
    },
    stats: () => ({ ...counts, held: entries.size }),
  };
}

interface Entry {
  readonly id: string;
  readonly request: LlmRequest;
  readonly context: RequestContext | undefined;
  // Unbounded on purpose: one answer, and a taker must get all of it.
  readonly events: ReplaySubject<LlmEvent>;
  state: 'running' | 'done' | 'failed';
  readonly startedAt: number;
  finishedAt?: number;
  upstream: Subscription;
  expiry: Subscription;
}

const TIMED_OUT = Symbol('prefetch timed out');

const positiveInt = s.number().int().positive();
const configSchema = s.strictObject({
  transport: transportSchema,
  ttl: s.number().positive().default(30_000),
  maxEntries: positiveInt.default(100),
  // A scheduler, not a clock: TTLs and take timeouts are timers.
  scheduler: schedulerSchema.optional(),
  key: functionSchema<(request: LlmRequest) => string>('a function (request) => string').optional(),
});
