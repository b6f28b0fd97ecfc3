import { RxllmError } from '../core/errors.js';

/**
 * The `incomplete-stream` error for a run that completed without a `done` state, naming the run
 * (`"summary"`, `parallel branch "summary"`), shared by {@link finalValue} and its internal friends.
 * @internal
 */
export function incompleteRun(what: string): RxllmError {
  return new RxllmError(
    'incomplete-stream',
    `${what} completed without a final value: its run() must end with a { status: 'done', value } state. ` +
      `If it can legitimately produce nothing, end it with a done state carrying a default value.`,
  );
}
