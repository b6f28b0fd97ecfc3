import type { Served } from '../core/context.js';

/** Where a step is: sent and `waiting` for its first token, `streaming`, or `done` with its value. */
export type StepStatus = StepState<unknown>['status'];

/** The fields every {@link StepState} has, whatever its `status`. */
export interface StepStateBase {
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
  /**
   * Which model or candidate answered the current request, once middleware that
   * chose one (`fallback()`, `route()`) has reported it through the request
   * context's `onServed`: on every state from the report on, the `done` state
   * included. Absent when nothing was reported (the request's own `model`
   * answered, or no such middleware is in the stack); cleared by a re-ask.
   */
  served?: Served;
}

/**
 * One progressive state of a {@link step}: enough to render it from the first
 * token (`textSoFar`), to time it (`startedAt`, `firstTokenAt`, `endedAt`, all
 * from the step's scheduler), to say who answered (`served`), and, once
 * `done`, its validated `value`.
 * A {@link Progress}, so steps nest in `parallel()` and `graph()`.
 */
export type StepState<O> =
  | (StepStateBase & {
      /** `waiting` for the first token of the current answer, then `streaming` it. */
      status: 'waiting' | 'streaming';
    })
  | (StepStateBase & {
      /** Discriminant: the step has its validated value. */
      status: 'done';
      /** The step's value: the answer's text, or the object its `output` schema validated. */
      value: O;
      /** When the step ended (`scheduler.now()`, milliseconds). */
      endedAt: number;
    });
