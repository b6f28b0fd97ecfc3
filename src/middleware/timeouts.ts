import { asyncScheduler, Observable, type SchedulerLike, type Subscription } from 'rxjs';
import { z } from 'zod';
import { RxllmError } from '../core/errors.js';
import { isContentEvent, type LlmEvent } from '../core/events.js';
import type { Middleware } from '../core/transport.js';
import { schedulerSchema, validateConfig } from '../core/validateConfig.js';

/** Options for {@link timeouts}. Every limit is in milliseconds; give at least one. */
export interface TimeoutsConfig {
  /** Longest wait from subscribe to the first content event (text, reasoning, refusal or tool call). */
  firstToken?: number;
  /** Longest gap between two events once the first content event has arrived. */
  idle?: number;
  /** Longest time from subscribe to completion. */
  total?: number;
  /** The step named in the error message. @defaultValue the request's `model` */
  step?: string;
  /** The clock and timers. @defaultValue asyncScheduler (virtualised by `TestScheduler.run`) */
  scheduler?: SchedulerLike;
}

/**
 * Middleware: bounds a request's time to first token, the gaps between its events, and its total
 * time. When a limit fires, the request is unsubscribed (aborting it) and the stream errors with
 * an {@link RxllmError} of code `timeout` whose message names the limit and the step, with
 * `tokensEmitted` (and `partialText`, the choice-0 text so far) set so `retry()` can tell whether
 * a retry is safe.
 *
 * ```text
 * timeouts({ firstToken: 100 })
 * upstream:  150ms a-b|
 * subs:      ^ 99ms !
 * result:    100ms #          # = RxllmError('timeout', 'No token from step "draft" within 100 ms ...')
 *
 * timeouts({ idle: 50 })
 * upstream:  10ms a 99ms b|
 * subs:      ^ 60ms !
 * result:    10ms a 49ms #
 * ```
 *
 * - **Emits** the upstream events unchanged.
 * - **Completes** with the upstream.
 * - **Errors** with the upstream's error, or with `timeout` when a limit fires first.
 * - **Unsubscribe** unsubscribes the upstream and cancels the timers.
 * - **Cold**: the clocks start at subscribe, one set per subscription.
 *
 * Only content events stop the first-token clock: a usage or finish event does not. The idle clock
 * starts at the first content event and is reset by every event after it.
 *
 * @throws {@link RxllmError} `invalid-config` when no limit is given or a limit is not a positive number.
 *
 * @example
 * ```ts
 * const llm = withMiddleware(sseTransport({ baseURL }), retry(), timeouts({ firstToken: 2_000, idle: 5_000, total: 60_000 }));
 * ```
 */
export function timeouts(config: TimeoutsConfig): Middleware {
  const { firstToken, idle, total, step, scheduler = asyncScheduler } = validateConfig('timeouts', configSchema, config);
  return (next) => (request) =>
    new Observable<LlmEvent>((subscriber) => {
      const name = step ?? request.model;
      const start = scheduler.now();
      const partial: string[] = [];
      let sawContent = false;
      let lastEventAt = start;
      let upstream: Subscription | undefined;
      const timers: Subscription[] = [];

      const fail = (message: string) => {
        // Abort first: a retry() downstream resubscribes from inside error(), and the old request must be gone by then.
        upstream?.unsubscribe();
        const partialText = partial.join('');
        subscriber.error(new RxllmError('timeout', message, { tokensEmitted: sawContent, ...(partialText ? { partialText } : {}) }));
      };

      if (total !== undefined) {
        timers.push(
          scheduler.schedule(
            () => fail(`Step "${name}" did not finish within ${total} ms (total limit). Raise \`total\`, or ask for a shorter answer.`),
            total,
          ),
        );
      }
      const firstTokenTimer =
        firstToken === undefined
          ? undefined
          : scheduler.schedule(
              () => fail(`No token from step "${name}" within ${firstToken} ms (firstToken limit). The endpoint may be overloaded; retry, or raise \`firstToken\`.`),
              firstToken,
            );
      if (firstTokenTimer) timers.push(firstTokenTimer);

      // One timer per gap, not per event: when it fires early (events came meanwhile) it re-arms for the rest.
      const armIdle = (limit: number, delay: number) => {
        const timer = scheduler.schedule(function () {
          const quiet = scheduler.now() - lastEventAt;
          if (quiet >= limit) {
            fail(`Step "${name}" sent nothing for ${limit} ms after its last event (idle limit). The stream stalled; retry, or raise \`idle\`.`);
          } else this.schedule(undefined, limit - quiet);
        }, delay);
        timers.push(timer);
      };

      upstream = next(request).subscribe({
        next: (event) => {
          lastEventAt = scheduler.now();
          if (!sawContent && isContentEvent(event)) {
            sawContent = true;
            firstTokenTimer?.unsubscribe();
            if (idle !== undefined) armIdle(idle, idle);
          }
          if (event.type === 'text' && event.choice === 0) partial.push(event.text);
          subscriber.next(event);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });

      return () => {
        upstream?.unsubscribe();
        for (const timer of timers) timer.unsubscribe();
      };
    });
}

const limit = z.number().positive().finite();
const configSchema = z
  .strictObject({
    firstToken: limit.optional(),
    idle: limit.optional(),
    total: limit.optional(),
    step: z.string().min(1).optional(),
    scheduler: schedulerSchema.optional(),
  })
  .refine((c) => c.firstToken !== undefined || c.idle !== undefined || c.total !== undefined, {
    message: 'give at least one of firstToken, idle, total (milliseconds)',
  });
