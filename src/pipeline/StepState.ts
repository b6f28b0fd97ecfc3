/** Where a step is: sent and `waiting` for its first token, `streaming`, or `done` with its value. */
export type StepStatus = StepState<unknown>['status'];

interface StepStateBase {
  /** The step's name. */
  step: string;
  /** The answer's text so far (choice 0), restarting from `''` on each re-ask. */
  textSoFar: string;
  /** How many re-asks have been sent so far: 0 on the first answer. */
  reask: number;
  /** When the step was subscribed (`scheduler.now()`, milliseconds). */
  startedAt: number;
  /** When the first token of the step's first answer arrived. */
  firstTokenAt?: number;
}

/**
 * One progressive state of a {@link step}: enough to render it from the first
 * token (`textSoFar`), to time it (`startedAt`, `firstTokenAt`, `endedAt`, all
 * from the step's scheduler), and, once `done`, its validated `value`.
 * A {@link Progress}, so steps nest in `parallel()` and `graph()`.
 */
export type StepState<O> =
  | (StepStateBase & { status: 'waiting' | 'streaming' })
  | (StepStateBase & { status: 'done'; value: O; endedAt: number });
