import { concat, defer, type MonoTypeOperatorFunction, type SchedulerLike, takeUntil, tap, throwError, timer } from 'rxjs';
import * as s from '../internal/check.js';
import type { RequestContext } from '../core/context.js';
import { RxllmError } from '../core/errors.js';

/**
 * The `deadline` option of `parallel()` and `graph()`: milliseconds from the start of a run.
 * @internal
 */
export const runDeadlineSchema = s.number('expected milliseconds from the start of a run (a number > 0)').positive(
  'expected milliseconds from the start of a run (a number > 0)',
);

/** What a deadline guard names in its errors. */
export interface DeadlineSubject {
  /** How the message names the run: `step "reply"`, `graph node "reply"`, `parallel branch "summary"`. */
  what: string;
  /** The step or node name, set as the error's `step`. */
  step: string;
}

/**
 * Holds a run to the context's deadline: on subscribe, when the deadline has
 * already passed, errors at once and never subscribes the run (no request is
 * started that cannot finish); otherwise, when the deadline passes before the
 * run completes, unsubscribes it (aborting its requests) and errors. Both
 * errors are `timeout` {@link RxllmError}s naming the run and the deadline.
 * Without a deadline, the run passes through untouched.
 *
 * ```text
 * deadline:           ----------|
 * run:      ---a---(b|)              ---a--------...
 * result:   ---a---(b|)              ---a-------#     timeout, the run unsubscribed
 * ```
 * @internal
 */
export function beforeDeadline<T>(
  subject: DeadlineSubject,
  context: RequestContext | undefined,
  scheduler: SchedulerLike,
): MonoTypeOperatorFunction<T> {
  const deadline = context?.deadline;
  if (deadline === undefined) return (run) => run;
  return (run) =>
    defer(() => {
      const left = deadline - scheduler.now();
      if (left <= 0) return throwError(() => notStarted(subject, deadline, deadline - left));
      // Per subscription: whether the run ended by itself or was cut off by the timer.
      let ended = false;
      return concat(
        run.pipe(
          tap({ complete: () => (ended = true) }),
          takeUntil(timer(left, scheduler)),
        ),
        defer(() => (ended ? [] : throwError(() => late(subject, deadline, left)))),
      );
    });
}

function notStarted({ what, step }: DeadlineSubject, deadline: number, now: number): RxllmError {
  return new RxllmError(
    'timeout',
    `${what} was not started: the run's deadline ${now === deadline ? 'was reached just as it was ready' : `had passed ${now - deadline} ms before it was ready`} ` +
      `(deadline ${deadline} on the scheduler's clock), so nothing was sent. ` +
      `Give the run a longer \`deadline\`, or make the steps before this one faster.`,
    { step },
  );
}

function late({ what, step }: DeadlineSubject, deadline: number, had: number): RxllmError {
  return new RxllmError(
    'timeout',
    `${what} did not finish by the run's deadline and was cancelled: it started with ${had} ms left ` +
      `(deadline ${deadline} on the scheduler's clock). ` +
      `Give the run a longer \`deadline\`, or make this step faster (a smaller model, a shorter answer).`,
    { step },
  );
}
