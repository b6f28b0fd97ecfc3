import { Observable, type OperatorFunction } from 'rxjs';
import type { Progress, ProgressDone } from '../core/Progress.js';
import { incompleteRun } from './incompleteRun.js';

/**
 * {@link finalValue} with the run described by `what` in the error message
 * (`parallel branch "summary"`): `parallel().value` names its branches this way.
 *
 * Emits the `value` of the last state when it is `done`, on completion; errors
 * with the run's error, or `incomplete-stream` when the run completes without
 * a `done` state; unsubscribe unsubscribes the run. Cold.
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
          if (!last) return subscriber.error(incompleteRun(what));
          subscriber.next(last.value);
          subscriber.complete();
        },
      });
    });
}
