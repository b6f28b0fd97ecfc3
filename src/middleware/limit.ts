import { asyncScheduler, defer, Observable, type SchedulerLike, type Subscriber, type Subscription } from 'rxjs';
import * as s from '../internal/check.js';
import { Relay } from '../internal/Relay.js';
import { RxllmError } from '../core/errors.js';
import type { RequestContext } from '../core/context.js'; // for {@link} in the docs
import type { LlmEvent } from '../core/events.js';
import type { Middleware, Transport } from '../core/transport.js';
import type { ConcurrencySlot, ConcurrencyStore } from '../load/ConcurrencyStore.js';
import { LaneQueue } from '../load/LaneQueue.js';
import { LatencyHistogram, type Distribution } from '../metrics/LatencyHistogram.js';
import { schedulerSchema } from '../core/validateConfig.js';

/** Options for {@link limit}. Validated once, when `limit()` is called. */
export interface LimitConfig {
  /** At most this many requests upstream at once. */
  concurrency: number;
  /**
   * At most this many requests waiting; one more fails at once with `overloaded`.
   * `0` turns the queue off (a request either starts or is rejected).
   * @defaultValue 1000
   */
  maxQueued?: number;
  /**
   * Lane names, highest priority first.
   * @defaultValue `['interactive', 'background']`
   */
  lanes?: readonly string[];
  /** The lane of a request whose context names none ({@link RequestContext.lane}). @defaultValue the first lane */
  defaultLane?: string;
  /**
   * Slots only a lane (and the lanes above it) may use, by lane name: the lanes
   * below it together hold at most `concurrency − reserve` slots.
   * `{ interactive: 2 }` with `concurrency: 8` lets background work fill at most
   * 6 slots, so an interactive request never waits for background work unless
   * two or more interactive requests are already in flight; interactive
   * requests beyond two share the other slots, ahead of background ones.
   * Reserves of several lanes add up for the lanes below them. The lowest lane
   * cannot reserve (there is no lane below it to hold back), and it keeps at
   * least one slot.
   *
   * Sizing: with a reserve as large as the interactive lane's peak
   * (`stats().lanes.interactive.peakInFlight` under normal load) an interactive
   * request never waits for background work; a smaller one trades some of that
   * for background throughput. In the load-control bench, 4 of 8 slots for an
   * interactive peak of 6 kept the interactive p95 unchanged.
   * @defaultValue `{}` (no reserve: every lane may fill every slot)
   */
  reserve?: Readonly<Record<string, number>>;
  /**
   * Anti-starvation: once a lower-lane request has waited this long, one
   * dispatch in four goes to the longest-waiting such request, so background
   * work moves on even under a steady stream of interactive requests.
   * @defaultValue 2000
   */
  agingMs?: number;
  /**
   * Where the slots live. Without one, `limit()` counts them in this process: `concurrency` per instance.
   * With a shared store (`redisConcurrencyStore` from `rxllm/redis`) every `limit()` given the same store and
   * the same `concurrency` shares one budget of `concurrency` slots across processes; this instance's
   * requests still wait in its own lane queue (see "Shared slots" in {@link limit}).
   * @defaultValue none: in-process slots
   */
  store?: ConcurrencyStore;
  /**
   * With a `store`, how long to wait before asking it again after it answered "all slots taken": the first
   * retry after `minMs`, each further one twice as long up to `maxMs`, times `1 + lane index` (so an instance
   * whose next request is of a higher lane asks sooner), with ±50% jitter so instances do not ask in step.
   * A slot freed in this process is asked for at once.
   * @defaultValue `{ minMs: 10, maxMs: 200 }`
   */
  storePoll?: {
    /** The first wait before asking the store again, in milliseconds. @defaultValue 10 */
    minMs?: number;
    /** The longest wait between asks, in milliseconds. @defaultValue 200 */
    maxMs?: number;
  };
  /** The clock of wait times, aging and store polling. @defaultValue asyncScheduler */
  scheduler?: SchedulerLike;
}

/** Queue measurements of one lane. */
export interface LaneStats {
  /** Slots this lane may use, shared with the lanes below it: `concurrency` minus the reserves of the lanes above it. */
  slots: number;
  /** Requests of this lane upstream now. */
  inFlight: number;
  /** The most requests of this lane upstream at once (the figure to size a `reserve` from). */
  peakInFlight: number;
  /** Requests waiting in this lane now. */
  queued: number;
  /** Requests of this lane that went upstream. */
  started: number;
  /** Requests of this lane rejected with `overloaded`. */
  rejected: number;
  /** Requests of this lane unsubscribed while they waited. */
  cancelledWhileQueued: number;
  /** Time from subscribe to going upstream (ms, 0 when a slot was free), of every started request; undefined before the first. */
  wait: Distribution | undefined;
}

/** What a {@link limit} middleware measured, over every transport it wraps. */
export interface LimitStats {
  /** Requests upstream now. */
  inFlight: number;
  /** Requests waiting now. */
  queued: number;
  /** The longest the queue has been. */
  peakQueued: number;
  /** Per lane, in priority order. */
  lanes: Record<string, LaneStats>;
  /** With a `store`: the times it answered "all slots taken" (each followed by a later ask). 0 without one. */
  storeRefusals: number;
  /**
   * With a `store`: requests started on the in-process count alone because the store could not answer
   * (Redis unreachable). 0 without one.
   */
  storeFallbacks: number;
}

/** The {@link limit} middleware, with its measurements. */
export interface LimitMiddleware extends Middleware {
  /** The measurements so far, per lane, as a fresh snapshot on each call. */
  stats(): LimitStats;
}

interface Waiting {
  readonly lane: number;
  readonly enqueuedAt: number;
  readonly start: (slot: ConcurrencySlot | undefined) => void;
}

/**
 * Middleware: at most `concurrency` requests upstream at once; the rest wait in
 * a bounded queue ordered by priority lane, with a guaranteed share so that
 * low lanes are never starved.
 *
 * ```text
 * concurrency 1; every upstream call takes 100ms
 * a (interactive, at 0):   100ms (f|)     upstream a: ^ 99ms !
 * b (background,  at 5):   400ms (f|)     upstream b: 300ms ^ 99ms !   (behind c and d)
 * c (interactive, at 10):  200ms (f|)     upstream c: 100ms ^ 99ms !
 * d (no lane,     at 20):  300ms (f|)     upstream d: 200ms ^ 99ms !   (default lane: interactive)
 *
 * concurrency 2, reserve { interactive: 1 }; every upstream call takes 100ms
 * a (background,  at 0):   100ms (f|)     upstream a: ^ 99ms !
 * b (background,  at 0):   210ms (f|)     upstream b: 110ms ^ 99ms !   (background may hold 1 slot only)
 * c (interactive, at 10):  110ms (f|)     upstream c: 10ms ^ 99ms !    (the reserved slot: no wait)
 * d (interactive, at 20):  200ms (f|)     upstream d: 100ms ^ 99ms !   (both slots busy: waits, then goes before b)
 * ```
 *
 * - **Lanes**: a request's lane is its context's `lane`
 *   (`llm(request, { lane: 'background' })`, see {@link RequestContext.lane}),
 *   else `defaultLane`. The lane travels beside the request, never in it: the
 *   provider never sees it, and it changes no cache or de-dup key. An unknown
 *   lane fails the request at subscribe with `invalid-request`.
 * - **Queue**: a waiting request holds nothing open: nothing is sent and no
 *   upstream subscription exists until a slot frees. Order: highest lane first,
 *   arrival order within a lane; but once a lower-lane request has waited
 *   `agingMs`, every fourth slot goes to the longest-waiting such request.
 * - **Reserve**: `reserve: { interactive: n }` keeps `n` slots that only
 *   interactive (and higher) requests may use: the lanes below hold at most
 *   `concurrency − n` slots together. An interactive request then never waits
 *   for background work unless `n` or more interactive requests are already in
 *   flight. The anti-starvation share is unchanged within those slots.
 * - **Emits** the upstream events unchanged; **completes** and **errors** with
 *   the upstream. A full queue errors at once with `overloaded`. The request
 *   and its context go upstream unchanged.
 * - **Unsubscribe** while waiting leaves the queue at once; while upstream, it
 *   aborts the request and frees the slot for the next waiter.
 * - **Shared state**: one `limit()` is one budget, shared by every request and
 *   every transport it wraps (that is the point: wrap once, reuse). Cold per
 *   request.
 * - **Measures** queue length and wait time per lane: {@link LimitMiddleware.stats}.
 * - **Shared slots** (`store`): a request that may start by this instance's count (its lane open, nobody
 *   of its lane or above waiting) still needs one of the store's `concurrency` slots. The instance asks for
 *   one slot at a time, on behalf of the request its queue would start next, and gives the slot to whichever
 *   request is next when the answer comes (a higher-lane request that arrived meanwhile goes first). When all
 *   slots are taken it asks again after a backoff (`storePoll`), sooner when its next request is of a
 *   higher lane. What is global: the total in flight (at most `concurrency` across every instance sharing the
 *   store). What stays per instance: the queue and its order, `maxQueued`, `reserve` (counted on this
 *   instance's requests), aging. Across instances priority is a tendency, not an order: an instance waiting
 *   with interactive work asks more often than one waiting with background work, so it tends to win the next
 *   free slot, but a background request on another instance can take a slot an interactive one waits for.
 *   If the store cannot answer (Redis down), the request starts on this instance's count alone (at most
 *   `concurrency` here), counted in `storeFallbacks`; the next request asks the store again.
 *
 * With {@link batch}, put `batch()` first (outside) and `limit()` after it, so
 * that a packed request takes one slot.
 *
 * @throws {@link RxllmError} `invalid-config` on bad options.
 *
 * @example
 * ```ts
 * const limiter = limit({ concurrency: 8, maxQueued: 200, reserve: { interactive: 3 } });
 * const llm = withMiddleware(sseTransport({ baseURL }), limiter);
 * llm(request, { lane: 'background' }).subscribe(...); // at most 5 at once, behind interactive work
 * limiter.stats().lanes['background']?.wait?.p95;        // ms
 * ```
 */
export function limit(config: LimitConfig): LimitMiddleware {
  const { maxQueued, lanes, defaultLane, agingMs, scheduler, slots, store, storePoll } = parseConfig(config);
  const laneIndex = new Map(lanes.map((name, index) => [name, index]));
  const queue = new LaneQueue<Waiting>(lanes.length, agingMs);
  const perLane = lanes.map(() => ({ inFlight: 0, peakInFlight: 0, started: 0, rejected: 0, cancelledWhileQueued: 0, wait: new LatencyHistogram() }));
  let inFlight = 0;
  let peakQueued = 0;
  let storeRefusals = 0;
  let storeFallbacks = 0;

  // Lane k may start while, for every lane j from the top down to k, lanes j and below hold fewer than slots[j]
  // (a reserve caps the lanes below it), so the lanes that may start are always the first few.
  const lanesOpen = (): number => {
    let open = 0;
    for (let below = inFlight; open < slots.length && below < slots[open]!; open++) below -= perLane[open]!.inFlight;
    return open;
  };
  const dispatch = (): void => {
    if (store !== undefined) return ask(store);
    for (let open = lanesOpen(); open > 0; open = lanesOpen()) {
      const next = queue.shift(scheduler.now(), open);
      if (next === undefined) return;
      next.start(undefined);
    }
  };

  // With a store: one ask at a time, for the request the queue would start next. Asking once per instance
  // (not once per waiting request) bounds the store's load by the number of instances, not of requests.
  let asking = false;
  let refusedInARow = 0;
  let retry: Subscription | undefined;
  const ask = (shared: ConcurrencyStore): void => {
    if (asking) return;
    retry?.unsubscribe();
    retry = undefined;
    const open = lanesOpen();
    if (open === 0 || queue.peek(scheduler.now(), open) === undefined) return;
    asking = true;
    let answer: Promise<ConcurrencySlot | undefined>;
    try {
      answer = shared.acquire(slots[0]!);
    } catch (error) {
      answer = Promise.reject(error);
    }
    answer.then(
      (slot) => answered(shared, slot, false),
      () => answered(shared, undefined, true),
    );
  };
  const answered = (shared: ConcurrencyStore, slot: ConcurrencySlot | undefined, failed: boolean): void => {
    asking = false;
    if (slot === undefined && !failed) {
      storeRefusals++;
      const open = lanesOpen();
      const waiting = open > 0 ? queue.peek(scheduler.now(), open) : undefined;
      if (waiting === undefined) return;
      const backoff = Math.min(storePoll.maxMs, storePoll.minMs * 2 ** refusedInARow++) * (1 + waiting.lane);
      retry = scheduler.schedule(() => {
        retry = undefined;
        ask(shared);
      }, backoff * (0.5 + Math.random()));
      return;
    }
    refusedInARow = 0;
    const open = lanesOpen();
    // The request asked for may have left meanwhile, or a higher one arrived: the slot goes to whoever is next now.
    const next = open > 0 ? queue.shift(scheduler.now(), open) : undefined;
    if (next === undefined) {
      slot?.release();
      return;
    }
    if (failed) storeFallbacks++;
    next.start(slot);
    ask(shared);
  };

  const middleware: Middleware = (next: Transport): Transport => (request, context) =>
    defer(() => {
      const name = context?.lane ?? defaultLane;
      const lane = laneIndex.get(name);
      if (lane === undefined) {
        throw new RxllmError(
          'invalid-request',
          `limit(): unknown lane "${name}"; this limiter has lanes ${lanes.map((l) => `"${l}"`).join(', ')}. Fix the context's lane (llm(request, { lane })), or add the lane to limit({ lanes }).`,
        );
      }
      const counts = perLane[lane]!;
      return new Observable<LlmEvent>((subscriber) => {
        const subscribedAt = scheduler.now();
        let upstream: Subscription | undefined;
        let slotHeld = false;
        let shared: ConcurrencySlot | undefined;
        const release = (): void => {
          if (!slotHeld) return;
          slotHeld = false;
          inFlight--;
          counts.inFlight--;
          shared?.release();
          shared = undefined;
          dispatch();
        };
        const start = (slot: ConcurrencySlot | undefined): void => {
          shared = slot;
          slotHeld = true;
          inFlight++;
          counts.inFlight++;
          counts.peakInFlight = Math.max(counts.peakInFlight, counts.inFlight);
          counts.started++;
          counts.wait.record(scheduler.now() - subscribedAt);
          upstream = next(request, context).subscribe(new SlotHolder(subscriber, release));
        };

        const entry: Waiting = { lane, enqueuedAt: subscribedAt, start };
        // Requests of this lane or above that wait go first; lower-lane ones may be waiting only because a reserve holds them back.
        const mayStart = lanesOpen() > lane && queue.sizeThrough(lane) === 0;
        if (mayStart && store === undefined) {
          start(undefined);
        } else if (!mayStart && queue.size >= maxQueued) {
          counts.rejected++;
          subscriber.error(
            new RxllmError(
              'overloaded',
              `limit(): the queue is full (${queue.size} waiting, ${inFlight} of ${slots[0]!} in flight); request rejected before sending. Retry later, shed load, or raise maxQueued / concurrency.`,
            ),
          );
        } else {
          // With a store, a request that may start by this instance's count waits here only for the store's answer.
          queue.push(entry);
          peakQueued = Math.max(peakQueued, queue.size);
          if (mayStart) dispatch();
        }

        return () => {
          if (queue.remove(entry)) counts.cancelledWhileQueued++;
          upstream?.unsubscribe();
          release();
        };
      });
    });

  const stats = (): LimitStats => ({
    inFlight,
    queued: queue.size,
    peakQueued,
    lanes: Object.fromEntries(
      lanes.map((name, index) => {
        const { wait, ...counts } = perLane[index]!;
        return [name, { slots: slots[index]!, ...counts, queued: queue.sizeOf(index), wait: wait.summary() }];
      }),
    ),
    storeRefusals,
    storeFallbacks,
  });
  return Object.assign(middleware, { stats });
}

const configSchema = s
  .strictObject({
    concurrency: s.number().int().min(1),
    maxQueued: s.number().int().min(0).default(1000),
    lanes: s.array(s.string().min(1)).min(1).default(['interactive', 'background']),
    defaultLane: s.string().optional(),
    reserve: s.record(s.string(), s.number().int().min(0)).default({}),
    agingMs: s.number().positive().default(2000),
    store: s
      .custom<ConcurrencyStore>((value) => typeof (value as { acquire?: unknown } | undefined)?.acquire === 'function', 'expected a ConcurrencyStore (an object with acquire(limit)), such as redisConcurrencyStore(...) from rxllm/redis')
      .optional(),
    storePoll: s
      .strictObject({ minMs: s.number().positive().default(10), maxMs: s.number().positive().default(200) })
      .refine((p) => p.maxMs >= p.minMs, { message: 'maxMs must be at least minMs' })
      .default({ minMs: 10, maxMs: 200 }),
    scheduler: schedulerSchema.default(() => asyncScheduler),
  })
  .refine((c) => new Set(c.lanes).size === c.lanes.length, { message: 'lane names must be unique', path: ['lanes'] })
  .refine((c) => c.defaultLane === undefined || c.lanes.includes(c.defaultLane), { message: 'defaultLane must be one of lanes', path: ['defaultLane'] })
  .superRefine((c, context) => {
    for (const lane of Object.keys(c.reserve)) {
      if (!c.lanes.includes(lane)) context.addIssue({ code: 'custom', message: `"${lane}" is not one of lanes (${c.lanes.join(', ')})`, path: ['reserve', lane] });
      else if (lane === c.lanes.at(-1)) {
        context.addIssue({ code: 'custom', message: `"${lane}" is the lowest lane: there is no lane below it to hold back; reserve for a higher lane instead`, path: ['reserve', lane] });
      }
    }
    const reserved = Object.values(c.reserve).reduce((sum, n) => sum + n, 0);
    if (reserved >= c.concurrency) {
      context.addIssue({ code: 'custom', message: `the reserves add up to ${reserved}, which leaves no slot of ${c.concurrency} for the lowest lane; keep them below concurrency`, path: ['reserve'] });
    }
  });

function parseConfig(config: LimitConfig) {
  const parsed = configSchema.safeParse(config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new RxllmError('invalid-config', `limit(): \`${issue.path.join('.') || 'config'}\`: ${issue.message}. Example: limit({ concurrency: 8, maxQueued: 200, lanes: ['interactive', 'background'] }).`, {
      cause: parsed.error,
      ...(issue.path.length > 0 ? { path: issue.path.join('.') } : {}),
    });
  }
  const { lanes, reserve, concurrency } = parsed.data;
  // slots[i]: what lane i and the lanes below it may hold together, the concurrency less the reserves of the lanes above.
  let held = 0;
  const slots = lanes.map((lane) => {
    const open = concurrency - held;
    held += reserve[lane] ?? 0;
    return open;
  });
  return { ...parsed.data, slots, defaultLane: parsed.data.defaultLane ?? lanes[0]! };
}

/**
 * The observer of a request that holds a slot: passes its events on and frees the slot just before its end
 * goes on. A Relay: every token passes here (see Relay for why not a partial observer).
 */
class SlotHolder extends Relay<LlmEvent, LlmEvent> {
  constructor(
    destination: Subscriber<LlmEvent>,
    private readonly release: () => void,
  ) {
    super(destination);
  }

  next(event: LlmEvent): void {
    if (!this.closed) this.destination.next(event);
  }

  override error(error: unknown): void {
    if (this.closed) return;
    this.release();
    super.error(error);
  }

  override complete(): void {
    if (this.closed) return;
    this.release();
    super.complete();
  }
}
