import { concat, defer, type MonoTypeOperatorFunction, Observable, type OperatorFunction, tap, throwError } from 'rxjs';
import { RxllmError } from '../core/errors.js';
import type { Progress, ProgressDone } from './Progress.js';

/**
 * The final value of a run: the `value` of its last `done` state, emitted when
 * the run completes.
 *
 * ```text
 * states:  w--s--s--(d|)
 * result:  ---------(v|)
 * ```
 *
 * Emits exactly one value; errors with the run's error, or with an
 * `incomplete-stream` {@link RxllmError} if the run completes without a `done`
 * state (never silently empty, unlike `forkJoin`); unsubscribe unsubscribes
 * the run, cancelling it. Cold.
 *
 * @example
 * ```ts
 * const label = await lastValueFrom(classify.run(text).pipe(finalValue('classify')));
 * ```
 * @see Progress
 */
export function finalValue<O>(name = 'run'): OperatorFunction<Progress<O>, O> {
  return doneValue(`"${name}"`);
}

/**
 * {@link finalValue} with the run described by `what` in the error message
 * (`parallel branch "summary"`).
 * @internal
 */
export function doneValue<O>(what: string): OperatorFunction<Progress<O>, O> {
  // One subscriber rather than requireDone + filter + takeLast + map: this sits on every
  // step's path, and its cost is paid again for each request a pipeline starts at once.
  return (states) =>
    new Observable<O>((subscriber) => {
      let last: ProgressDone<O> | undefined;
      return states.subscribe({
        next: (state) => {
          last = state.status === 'done' ? (state as ProgressDone<O>) : undefined;
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          if (!last) return subscriber.error(incomplete(what));
          subscriber.next(last.value);
          subscriber.complete();
        },
      });
    });
}

/**
 * Passes states through and errors, instead of completing, when the run ends
 * without a `done` state: an empty branch must be loud (RxJS issue #3246).
 * `what` names the run in the message (`parallel branch "summary"`).
 * @internal
 */
export function requireDone<S extends Progress<unknown>>(what: string): MonoTypeOperatorFunction<S> {
  return (states) =>
    defer(() => {
      // Per subscription: each run of the same observable tracks its own ending.
      let done = false;
      return concat(
        states.pipe(tap((state) => (done = state.status === 'done'))),
        defer(() => (done ? [] : throwError(() => incomplete(what)))),
      );
    });
}

function incomplete(what: string): RxllmError {
  return new RxllmError(
    'incomplete-stream',
    `${what} completed without a final value: its run() must end with a { status: 'done', value } state. ` +
      `If it can legitimately produce nothing, end it with a done state carrying a default value.`,
  );
}
