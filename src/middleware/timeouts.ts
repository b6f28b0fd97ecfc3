import { asyncScheduler, Observable, type SchedulerLike, type Subscriber, type Subscription } from 'rxjs';
import { Relay } from '../internal/Relay.js';
import * as s from '../internal/check.js';
import { stepOf, timeLeft, type RequestContext } from '../core/context.js';
import { PartialText } from '../internal/PartialText.js';
import { RxllmError, type TimeLimit } from '../core/errors.js';
import { isContentEvent, type LlmEvent } from '../core/events.js';
import type { Middleware } from '../core/transport.js';
import { schedulerSchema, validateConfig } from '../core/validateConfig.js';
import { stepOptionRemoved } from './stepOptionRemoved.js';
import { withFields } from '../internal/withFields.js';

/** Options for {@link timeouts}. Every limit is in milliseconds; give at least one. */
export interface TimeoutsConfig {
  /**
   * Longest wait from subscribe to the response headers: the endpoint did not answer at all (down,
   * overloaded, a connection that hangs). Stopped by the transport's report of headers (the request
   * context's `onHeaders`, which `sseTransport` and `openaiTransport` call) or by the first event of
   * any kind, whichever comes first; so over a transport that does not report headers (the simulated
   * one, your own) it bounds the time to the first event.
   */
  headers?: number;
  /** Longest wait from subscribe to the first content event (text, reasoning, refusal or tool call). */
  firstToken?: number;
  /** Longest gap between two events once the first content event has arrived. */
  idle?: number;
  /** Longest time from subscribe to completion. */
  total?: number;
  /** The clock and timers. @defaultValue asyncScheduler (virtualised by `TestScheduler.run`) */
  scheduler?: SchedulerLike;
}

/**
 * Middleware: bounds a request's time to response headers, to first token, the gaps between its
 * events, and its total time, and ends it at the request context's deadline. When a limit fires,
 * the request is unsubscribed (aborting it) and the stream errors with an {@link RxllmError} of
 * code `timeout` whose message names the limit and the step, with `limit` (`'headers'`,
 * `'firstToken'`, `'idle'`, `'total'` or `'deadline'`), `tokensEmitted` (and `partialText`, the
 * choice-0 text so far) set so `retry()` can tell whether a retry is safe: by its default rule a
 * `headers` or `firstToken` timeout is retried, a `total` or `deadline` one is final.
 *
 * The step named is the request context's (`context.step`, set by `step()`), else the request's
 * `model`, so one `timeouts()` serves every step of a pipeline. `context.deadline` (an absolute
 * time on the scheduler's clock) ends the request too: the stream errors at the earlier of
 * `total` and the deadline (a tie is the deadline's), and a request already past its deadline
 * errors at subscribe without being sent.
 *
 * ```text
 * timeouts({ headers: 50 })    h = the transport reports headers (context.onHeaders)
 * upstream:  80ms h 10ms a|
 * subs:      ^ 49ms !
 * result:    50ms #           # = RxllmError('timeout', 'No response headers from step "draft" within 50 ms ...', { limit: 'headers' })
 *
 * timeouts({ firstToken: 100 })
 * upstream:  150ms a-b|
 * subs:      ^ 99ms !
 * result:    100ms #          # = RxllmError('timeout', 'No token from step "draft" within 100 ms ...', { limit: 'firstToken' })
 *
 * timeouts({ idle: 50 })
 * upstream:  10ms a 99ms b|
 * subs:      ^ 60ms !
 * result:    10ms a 49ms #
 *
 * timeouts({ total: 1000 }), context { deadline: 60 } (subscribed at 0)
 * upstream:  10ms a 99ms b|
 * subs:      ^ 59ms !
 * result:    10ms a 49ms #    # = RxllmError('timeout', 'Step "draft" did not finish by its deadline ...', { limit: 'deadline' })
 * ```
 *
 * - **Non-streamed requests** (`stream: false`, which `step().value()` and `parallel().value()` send when the
 *   request leaves `stream` unset): the answer arrives whole when the model has finished, so only `total` and the
 *   deadline apply; `headers`, `firstToken` and `idle` are not armed.
 * - **Emits** the upstream events unchanged.
 * - **Completes** with the upstream.
 * - **Errors** with the upstream's error, or with `timeout` when a limit or the deadline fires first.
 * - **Unsubscribe** unsubscribes the upstream and cancels the timers.
 * - **Cold**: the clocks start at subscribe, one set per subscription.
 * - Passes the request context on unchanged, but for `onHeaders` when `headers` is set: its own,
 *   which stops the headers clock and then calls the context's.
 *
 * Only content events stop the first-token clock: a usage or finish event does not. The headers
 * clock stops at the transport's `onHeaders` or at the first event of any kind. The idle clock
 * starts at the first content event and is reset by every event after it.
 *
 * Reporting headers needs the request context to reach the transport: every rxllm middleware
 * passes it on; when `timeouts()` sits above a shared request (`dedupe()`, `cache()`), only the
 * subscriber that started it hears its headers, and the others' `headers` clocks stop at the first event.
 *
 * @throws {@link RxllmError} `invalid-config` when no limit is given or a limit is not a positive
 * number, and for the `step` option of 0.1 (the step comes from the request context now).
 *
 * @example
 * ```ts
 * const llm = withMiddleware(sseTransport({ baseURL }), retry(), timeouts({ firstToken: 2_000, idle: 5_000, total: 60_000 }));
 * llm(request, { step: 'summary', deadline: asyncScheduler.now() + 10_000 }); // ends by the deadline, retries included
 * ```
 */
export function timeouts(config: TimeoutsConfig): Middleware {
  const { headers: headersLimit, firstToken: firstTokenLimit, idle: idleLimit, total, scheduler = asyncScheduler } = validateConfig('timeouts', configSchema, config);
  return (next) => (request, context) =>
    new Observable<LlmEvent>((subscriber) => {
      // A request with `stream: false` (what step().value() sends) gets its headers and its whole answer at
      // once, when the model has finished: a headers, first-token or idle limit would time the whole answer
      // and fail every long one. Only `total` and the deadline bound it.
      const streamed = request.stream !== false;
      const headers = streamed ? headersLimit : undefined;
      const firstToken = streamed ? firstTokenLimit : undefined;
      const idle = streamed ? idleLimit : undefined;
      const name = stepOf(request, context);
      const start = scheduler.now();
      const left = timeLeft(context, scheduler);
      const timers: Subscription[] = [];
      // The upstream's observer: the first event stops the headers clock, the first content event the first-token
      // clock (and starts the idle one). Its callbacks name timers declared below: they run only on events, which
      // come after `subscribe(watch)` at the end, when every timer exists.
      const watch = new Watch(
        subscriber,
        scheduler,
        idle !== undefined,
        start,
        () => headersTimer?.unsubscribe(),
        () => {
          firstTokenTimer?.unsubscribe();
          if (idle !== undefined) armIdle(idle, idle);
        },
      );

      const fail = (limit: TimeLimit, message: string) => {
        // Abort first: a retry() downstream resubscribes from inside error(), and the old request must be gone by then.
        watch.unsubscribe();
        subscriber.error(new RxllmError('timeout', message, { limit, ...watch.partial.errorDetails() }));
      };

      if (left <= 0) {
        // Sending it would only load the server with an answer nobody can use.
        fail('deadline', `Step "${name}" was past its deadline before the request was sent (deadline). ${DEADLINE_ADVICE}`);
        return;
      }

      // One timer for the end: `total` or the deadline, whichever comes first.
      const ends = Math.min(total ?? Infinity, left);
      if (ends !== Infinity) {
        const byDeadline = left <= (total ?? Infinity);
        timers.push(
          scheduler.schedule(
            () =>
              byDeadline
                ? fail('deadline', `Step "${name}" did not finish by its deadline, ${Math.round(left)} ms after the request was sent (deadline). ${DEADLINE_ADVICE}`)
                : fail('total', `Step "${name}" did not finish within ${total} ms (total limit). Raise \`total\`, or ask for a shorter answer.`),
            ends,
          ),
        );
      }
      // A headers limit that ends no earlier than the deadline would never fire first: not armed.
      const headersTimer =
        headers === undefined || headers >= left
          ? undefined
          : scheduler.schedule(
              () =>
                fail(
                  'headers',
                  `No response headers from step "${name}" within ${headers} ms (headers limit). The endpoint did not answer: it may be down or overloaded; retry, or raise \`headers\`.`,
                ),
              headers,
            );
      if (headersTimer) timers.push(headersTimer);
      // Told by the transport, beside the stream; the caller's own onHeaders still hears it.
      const downstream: RequestContext | undefined = headersTimer
        ? withFields<RequestContext, RequestContext>(context, {
            onHeaders: (status, received) => {
              headersTimer.unsubscribe();
              context?.onHeaders?.(status, received);
            },
          })
        : context;

      // A first-token limit that ends no earlier than the deadline would never fire first: not armed.
      const firstTokenTimer =
        firstToken === undefined || firstToken >= left
          ? undefined
          : scheduler.schedule(
              () => fail('firstToken', `No token from step "${name}" within ${firstToken} ms (firstToken limit). The endpoint may be overloaded; retry, or raise \`firstToken\`.`),
              firstToken,
            );
      if (firstTokenTimer) timers.push(firstTokenTimer);

      // One timer per gap, not per event: when it fires early (events came meanwhile) it re-arms for the rest.
      const armIdle = (limit: number, delay: number) => {
        const timer = scheduler.schedule(function () {
          const quiet = scheduler.now() - watch.lastEventAt;
          if (quiet >= limit) {
            fail('idle', `Step "${name}" sent nothing for ${limit} ms after its last event (idle limit). The stream stalled; retry, or raise \`idle\`.`);
          } else this.schedule(undefined, limit - quiet);
        }, delay);
        timers.push(timer);
      };

      next(request, downstream).subscribe(watch);

      return () => {
        watch.unsubscribe();
        for (const timer of timers) timer.unsubscribe();
      };
    });
}

/**
 * The observer of one request's events under {@link timeouts}: keeps what the timers need (the time of the
 * last event, the text so far for a timeout's `partialText`) and says when the first event and the first
 * content arrive. A Relay: every token passes here (see Relay for why not a partial observer).
 */
class Watch extends Relay<LlmEvent, LlmEvent> {
  readonly partial = new PartialText();
  private waitingForEvent = true;
  private waitingForContent = true;

  constructor(
    destination: Subscriber<LlmEvent>,
    private readonly scheduler: SchedulerLike,
    private readonly trackIdle: boolean,
    private lastEvent: number,
    private readonly firstEvent: () => void,
    private readonly firstContent: () => void,
  ) {
    super(destination);
  }

  /** When the last event arrived (the request's start before any), on the scheduler's clock. */
  get lastEventAt(): number {
    return this.lastEvent;
  }

  // Per token: the clock is read only when an idle limit needs the time of the last event, and the headers
  // and first-token clocks are stopped once, not on every event.
  next(event: LlmEvent): void {
    if (this.closed) return;
    if (this.trackIdle) this.lastEvent = this.scheduler.now();
    if (this.waitingForEvent) {
      this.waitingForEvent = false;
      this.firstEvent();
    }
    if (this.waitingForContent && isContentEvent(event)) {
      this.waitingForContent = false;
      this.firstContent();
    }
    this.partial.add(event);
    this.destination.next(event);
  }
}

const DEADLINE_ADVICE = 'The deadline bounds the whole request, retries included: give the pipeline a later deadline, or ask for a shorter answer.';

const limit = s.number().positive().finite();
const configSchema = s
  .strictObject({
    headers: limit.optional(),
    firstToken: limit.optional(),
    idle: limit.optional(),
    total: limit.optional(),
    step: stepOptionRemoved,
    scheduler: schedulerSchema.optional(),
  })
  .refine((c) => c.headers !== undefined || c.firstToken !== undefined || c.idle !== undefined || c.total !== undefined, {
    message: 'give at least one of headers, firstToken, idle, total (milliseconds)',
  });
