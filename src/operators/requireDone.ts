import { concat, defer, type MonoTypeOperatorFunction, tap, throwError } from 'rxjs';
import type { Progress } from '../core/Progress.js';
import { incompleteRun } from './incompleteRun.js';

/**
 * Passes states through and errors, instead of completing, when the run ends
 * without a `done` state: an empty branch must be loud (RxJS issue #3246).
 * `what` names the run in the message (`parallel branch "summary"`).
 *
 * ```text
 * states:  w--s--(d|)      w--s--|
 * result:  w--s--(d|)      w--s--#    incomplete-stream
 * ```
 *
 * Errors with the run's error too; unsubscribe unsubscribes the run. Cold; the
 * ending is tracked per subscription.
 * @internal
 */
export function requireDone<S extends Progress<unknown>>(what: string): MonoTypeOperatorFunction<S> {
  return (states) =>
    defer(() => {
      // Per subscription: each run of the same observable tracks its own ending.
      let done = false;
      return concat(
        states.pipe(tap((state) => (done = state.status === 'done'))),
        defer(() => (done ? [] : throwError(() => incompleteRun(what)))),
      );
    });
}
