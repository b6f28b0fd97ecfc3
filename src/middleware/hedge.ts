import { asyncScheduler, Observable, type SchedulerLike, type Subscriber, Subscription } from 'rxjs';
import { Relay } from '../internal/Relay.js';
import * as s from '../internal/check.js';
import { stepOf, timeLeft } from '../core/context.js';
import { isContentEvent, type LlmEvent } from '../core/events.js';
import type { LlmRequest } from '../core/request.js';
import type { Middleware, Transport } from '../core/transport.js';
import { type LatencySource, parsePercentile } from './latencySource.js';
import type { LatencyRegistry } from '../metrics/LatencyRegistry.js'; // for {@link} in the docs
import { functionSchema, latencySourceSchema, schedulerSchema, validateConfig } from '../core/validateConfig.js';
import { stepOptionRemoved } from './stepOptionRemoved.js';
import { withFields } from '../internal/withFields.js';

/** The share of extra requests hedging may add: a token bucket filled by every request. */
export interface HedgeBudget {
  /** Extra requests per request, over time (0.1 = at most 10 % more, plus `burst`). @defaultValue 0.1 */
  ratio?: number;
  /** The bucket's size: hedges that can be spent at once, and how many it starts with. @defaultValue 3 */
  burst?: number;
}

/**
 * What {@link HedgeConfig.onHedge} is told. `attempt` 0 is the original request, 1 the first backup, ...
 * A `skipped` event says why a backup was not sent: the budget was spent, a percentile `after` had
 * too few samples, the request has side effects, or the backup would start at or after the request
 * context's deadline.
 */
export type HedgeEvent =
  | {
      /** A backup request was sent. */
      type: 'started';
      /** Which request: 1 for the first backup, … */
      attempt: number;
      /** How long after the original it was sent, in ms (the resolved `after`). */
      afterMs: number;
    }
  | {
      /** This attempt produced the first content token; the others were cancelled. */
      type: 'won';
      /** The winner: 0 the original, 1 the first backup, … */
      attempt: number;
    }
  | {
      /** A backup was due but not sent. */
      type: 'skipped';
      /** Why: the budget was spent, too few samples for a percentile `after`, side effects, or the deadline. */
      reason: 'budget' | 'no-latency-data' | 'side-effects' | 'deadline';
    };

/** Options for {@link hedge}. */
export interface HedgeConfig {
  /**
   * How long to wait for a content token before sending a backup: milliseconds, or a percentile
   * of the observed time to first token (`'p95'`) read from `registry` under the request's step
   * (the request context's `step`, else the request's `model`: the key `measure()` records under).
   */
  after: number | `p${number}`;
  /** Where a percentile `after` is read; required with one. See {@link LatencySource}. */
  registry?: LatencySource;
  /** Fewer windowed samples than this and a percentile `after` does not hedge (it has nothing to go by). @defaultValue 20 */
  minSamples?: number;
  /** Backups per request at most; each waits `after` more than the one before. @defaultValue 1 */
  maxHedges?: number;
  /** Caps the extra requests; `false` for no cap. Shared by every request through this middleware. @defaultValue `{ ratio: 0.1, burst: 3 }` */
  budget?: HedgeBudget | false;
  /** Where backups go. @defaultValue the same transport as the original */
  to?: Transport;
  /**
   * Requests for which sending twice would do harm (a tool-using agent step that books something).
   * They are never hedged. @defaultValue none
   */
  sideEffects?: (request: LlmRequest) => boolean;
  /** Called when a backup starts, when an attempt wins, and when hedging is skipped. */
  onHedge?: (event: HedgeEvent) => void;
  /** The timers, and the clock the request context's deadline is read on. @defaultValue asyncScheduler (virtualised by `TestScheduler.run`) */
  scheduler?: SchedulerLike;
}

/**
 * Middleware: a request that has produced no content token within `after` gets a backup request;
 * the first attempt to produce a content token wins and is streamed, and every other attempt is
 * unsubscribed at once (its HTTP request is aborted).
 *
 * ```text
 * hedge({ after: 100 })
 * original:  300ms a-b|
 * orig subs: ^ 149ms !               cancelled the moment the backup wins
 * backup:        50ms a-b|           started at 100
 * bkup subs: 100ms ^ 52ms !
 * result:    150ms a-b|
 *
 * hedge({ after: 100 }), context { deadline: 100 }: a backup at 100 would start at the deadline
 * original:  300ms a-b|
 * result:    300ms a-b|          no backup; onHedge: skipped, 'deadline'
 * ```
 *
 * - **Emits** the winning attempt's events only (non-content events that came before its first
 *   token are held and passed on when it wins).
 * - **Completes** with the winner (an attempt that completes with no content also wins).
 * - **Errors** with the winner's error; before any winner, only when every running attempt has
 *   failed (the last one's error). Put `retry()` outside `hedge()` to retry that.
 * - **Unsubscribe** aborts every running attempt and cancels the timer.
 * - **Cold**: one hedged request per subscription. The budget is shared across requests.
 * - **Keeps the deadline** of the request context (`context.deadline`, on the scheduler's clock):
 *   a backup that would start at or after it is not sent (`onHedge` is told `skipped`,
 *   `'deadline'`). Ending the attempts at the deadline is `timeouts()`'s job.
 * - Passes the request context on unchanged to every attempt, backups included.
 *
 * Hedging at the live p95 (`after: 'p95'`) needs `measure()` feeding the registry: both key by the
 * request's step (`context.step`, set by `step()`, else the model), so one `hedge()` in one stack
 * hedges each step of a pipeline at that step's own p95. Place `measure()` inside `hedge()` so it
 * measures single attempts. A loser cancelled before its first token is recorded as `cancelled` with
 * no first token, and the registry counts it as a right-censored time ("longer than it ran"): its
 * percentile is a Kaplan–Meier estimate (see {@link LatencyRegistry.percentile}), so the slow
 * originals that hedging cancels stay in the window's p95, and the share of requests hedged stays at
 * the hedge point (about 5 % at `'p95'`) instead of drifting up. Requests with side effects are never
 * hedged: mark them with `sideEffects`.
 *
 * @throws {@link RxllmError} `invalid-config` on a bad option (a percentile `after` without a registry).
 *
 * @example
 * ```ts
 * const latency = new LatencyRegistry({ window: { requests: 500 } });
 * const llm = withMiddleware(
 *   sseTransport({ baseURL }),
 *   hedge({ after: 'p95', registry: latency, budget: { ratio: 0.05 }, sideEffects: (r) => r.tools !== undefined }),
 *   measure({ registry: latency }),
 * );
 * ```
 */
export function hedge(config: HedgeConfig): Middleware {
  const {
    after,
    registry,
    minSamples = 20,
    maxHedges = 1,
    budget = {},
    to,
    sideEffects,
    onHedge,
    scheduler = asyncScheduler,
  } = validateConfig('hedge', configSchema, config);
  const percentile = typeof after === 'string' ? parsePercentile(after)! : undefined;
  const bucket = budget === false ? undefined : new TokenBucket(budget.ratio ?? 0.1, budget.burst ?? 3);

  return (next) => (request, context) =>
    new Observable<LlmEvent>((subscriber) => {
      const notify = (event: HedgeEvent): void => {
        try {
          onHedge?.(event);
        } catch (error) {
          subscriber.error(error);
        }
      };
      if (sideEffects?.(request)) {
        notify({ type: 'skipped', reason: 'side-effects' });
        return next(request, context).subscribe(subscriber);
      }
      bucket?.deposit();

      let delay = typeof after === 'number' ? after : undefined;
      if (percentile !== undefined) {
        const query = { step: stepOf(request, context) };
        delay = registry!.count(query) >= minSamples ? registry!.percentile(withFields(query, { p: percentile })) : undefined;
      }

      const timer = new Subscription();
      const race = new Race(subscriber, timer, notify);
      const start = (index: number): void => race.start(index, () => (index === 0 ? next : (to ?? next))(request, context));

      const armHedge = (hedgeNumber: number): void => {
        // A backup that would start at or after the deadline could not answer in time.
        if (delay! >= timeLeft(context, scheduler)) {
          notify({ type: 'skipped', reason: 'deadline' });
          return;
        }
        timer.add(
          scheduler.schedule(() => {
            if (race.winner !== -1) return;
            if (bucket && !bucket.take()) {
              notify({ type: 'skipped', reason: 'budget' });
              return;
            }
            notify({ type: 'started', attempt: hedgeNumber, afterMs: delay! * hedgeNumber });
            start(hedgeNumber);
            if (hedgeNumber < maxHedges) armHedge(hedgeNumber + 1);
          }, delay),
        );
      };

      start(0);
      // The original failed at once (its transport threw, or its stream erred synchronously): nothing to hedge.
      if (subscriber.closed) return;
      if (delay === undefined) notify({ type: 'skipped', reason: 'no-latency-data' });
      else if (maxHedges > 0 && race.winner === -1) armHedge(1);

      return () => {
        timer.unsubscribe();
        race.unsubscribeAll();
      };
    });
}

/**
 * One request's race between its attempts: which one won (the first with content, or the first to
 * complete), the events each held back before then, and how many still run.
 */
class Race {
  /** The winner's index: 0 the original, 1 the first backup, …; -1 while none has won. */
  winner = -1;
  private running = 0;
  private readonly attempts: (Attempt | undefined)[] = [];
  private readonly held: LlmEvent[][] = [];

  constructor(
    private readonly subscriber: Subscriber<LlmEvent>,
    private readonly timer: Subscription,
    private readonly notify: (event: HedgeEvent) => void,
  ) {}

  /**
   * Starts attempt `index`: counted and known before its transport is called, so that an attempt that
   * wins meanwhile (a transport can emit while another one is called) cancels it, and a transport that
   * throws instead of returning a stream fails that attempt like any other error.
   */
  start(index: number, send: () => Observable<LlmEvent>): void {
    this.running++;
    this.held[index] = [];
    const attempt = new Attempt(this.subscriber, this, index);
    this.attempts[index] = attempt;
    let events: Observable<LlmEvent>;
    try {
      events = send();
    } catch (error: unknown) {
      attempt.error(error);
      return;
    }
    // Another attempt may have won while this one's transport was called: then it is already cancelled.
    if (!attempt.closed) events.subscribe(attempt);
  }

  /** An event of attempt `index` before any attempt won: content makes it the winner, anything else waits. */
  early(index: number, event: LlmEvent): void {
    if (isContentEvent(event)) {
      this.win(index);
      this.subscriber.next(event);
    } else this.held[index]!.push(event);
  }

  failed(index: number, error: unknown): void {
    if (this.winner === index) this.subscriber.error(error);
    else if (this.winner === -1) {
      this.attempts[index] = undefined;
      // Another attempt still running may yet answer; only when none is left does the request fail.
      if (--this.running === 0) this.subscriber.error(error);
    }
  }

  completed(index: number): void {
    if (this.winner === -1) this.win(index);
    if (this.winner === index) this.subscriber.complete();
  }

  unsubscribeAll(): void {
    for (const attempt of this.attempts) attempt?.unsubscribe();
  }

  private win(index: number): void {
    this.winner = index;
    this.timer.unsubscribe();
    this.attempts.forEach((attempt, i) => {
      if (i !== index) attempt?.unsubscribe();
    });
    if (this.attempts.length > 1) this.notify({ type: 'won', attempt: index });
    for (const event of this.held[index]!) this.subscriber.next(event);
    this.held.length = 0;
  }
}

/**
 * One attempt's observer: once its attempt has won, a token passes straight to the caller with one call (a
 * Relay: see there for why not a partial observer).
 */
class Attempt extends Relay<LlmEvent, LlmEvent> {
  constructor(
    destination: Subscriber<LlmEvent>,
    private readonly race: Race,
    private readonly index: number,
  ) {
    super(destination);
  }

  next(event: LlmEvent): void {
    if (this.closed) return;
    const winner = this.race.winner;
    if (winner === this.index) this.destination.next(event);
    else if (winner === -1) this.race.early(this.index, event);
  }

  override error(error: unknown): void {
    if (this.closed) return;
    this.close();
    this.race.failed(this.index, error);
  }

  override complete(): void {
    if (this.closed) return;
    this.close();
    this.race.completed(this.index);
  }
}

/** Hedges earned per request, spent one per backup; at most `capacity` saved up. */
class TokenBucket {
  private tokens: number;
  constructor(
    private readonly ratio: number,
    private readonly capacity: number,
  ) {
    this.tokens = capacity;
  }
  deposit(): void {
    this.tokens = Math.min(this.capacity, this.tokens + this.ratio);
  }
  take(): boolean {
    // A hair under 1 still counts: ten deposits of 0.1 add up to 0.9999999999999999.
    if (this.tokens < 1 - 1e-9) return false;
    this.tokens -= 1;
    return true;
  }
}

const configSchema = s
  .strictObject({
    after: s.union([
      s.number().nonnegative().finite(),
      s.string().refine((p) => parsePercentile(p) !== undefined, "a percentile such as 'p95'"),
    ]),
    registry: latencySourceSchema<LatencySource>().optional(),
    step: stepOptionRemoved,
    minSamples: s.number().int().nonnegative().optional(),
    maxHedges: s.number().int().nonnegative().max(10).optional(),
    budget: s
      .union([
        s.literal(false),
        s.strictObject({ ratio: s.number().min(0).max(10).optional(), burst: s.number().min(1).optional() }),
      ])
      .optional(),
    to: functionSchema<Transport>('a transport').optional(),
    sideEffects: functionSchema<(request: LlmRequest) => boolean>('a function (request) => boolean').optional(),
    onHedge: functionSchema<(event: HedgeEvent) => void>('a function (event) => void').optional(),
    scheduler: schedulerSchema.optional(),
  })
  .refine((c) => typeof c.after === 'number' || c.registry !== undefined, {
    message: "a percentile `after` ('p95') needs `registry` (a LatencyRegistry filled by measure())",
    path: ['after'],
  });
