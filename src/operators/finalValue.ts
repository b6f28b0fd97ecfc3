import type { OperatorFunction } from 'rxjs';
import type { Progress } from '../core/Progress.js';
import { doneValue } from './doneValue.js';

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
 * `incomplete-stream` {@link RxllmError} naming the run (`name`) if it
 * completes without a `done` state (never silently empty, unlike `forkJoin`);
 * unsubscribe unsubscribes the run, cancelling it. Cold.
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
