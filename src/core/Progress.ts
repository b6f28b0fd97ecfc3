import type { Observable } from 'rxjs';
import type { RequestContext } from './context.js';

/**
 * A run that has started and has no final value yet: `waiting` for its first
 * token, or `streaming`. Times are `scheduler.now()` readings, in milliseconds.
 */
export interface ProgressRunning {
  /** `waiting` until the first token of the run arrives, `streaming` after. */
  status: 'waiting' | 'streaming';
  /** When the run started (`scheduler.now()`, ms). */
  startedAt: number;
  /** When the first token (of any part of the run) arrived. */
  firstTokenAt?: number;
}

/** A run that finished with its final value. */
export interface ProgressDone<O> {
  /** Discriminant: the run finished with its value. */
  status: 'done';
  /** The run's final value. */
  value: O;
  /** When the run started (`scheduler.now()`, ms). */
  startedAt: number;
  /** When the first token (of any part of the run) arrived; undefined if none did (a cached or tool-only answer). */
  firstTokenAt?: number;
  /** When the run ended. */
  endedAt: number;
}

/**
 * A run that ended without a value and without erroring: only a
 * {@link graph} with `onError: 'continue'` ends like this (some nodes failed,
 * the others' results are in the state).
 */
export interface ProgressFailed {
  /** Discriminant: the run ended without a value (a graph with `onError: 'continue'` whose nodes failed). */
  status: 'failed';
  /** When the run started (`scheduler.now()`, ms). */
  startedAt: number;
  /** When the first token (of any part of the run) arrived, if one did. */
  firstTokenAt?: number;
  /** When the run ended. */
  endedAt: number;
}

/**
 * The protocol every pipeline piece speaks: a run emits progressive states and
 * ends with one `done` state that carries the value. {@link StepState},
 * {@link ParallelState} and {@link GraphState} are all `Progress`es, which is
 * why a step, a parallel group and a graph can be nested in one another.
 */
export type Progress<O> = ProgressRunning | ProgressDone<O> | ProgressFailed;

/**
 * Anything that runs on an input and reports its {@link Progress}: a
 * {@link Step}, a {@link Parallel} group, a {@link Graph}, or your own object
 * with a `run` method. `parallel()` branches and `graph()` nodes are Runnables.
 *
 * The contract: `run(input, context?)` is cold (nothing starts before
 * subscribe), unsubscribing cancels everything under it, and a successful run
 * emits a `done` state last and then completes. The optional
 * {@link RequestContext} comes from the parent (a graph's or parallel group's
 * deadline, a caller's lane or attributes): pass it on to the runs and
 * requests under yours, so the deadline reaches every request.
 */
export interface Runnable<I, O, S extends Progress<O> = Progress<O>> {
  /** Runs on `input`: cold; emits progressive states, `done` last, then completes. */
  run(input: I, context?: RequestContext): Observable<S>;
}

/**
 * A pre-bound run function of a {@link Step}, {@link Parallel} group or
 * {@link Graph}: `run(input)` or `run(input, context)`.
 *
 * Two signatures so that `switchMap(step.run)` still type-checks: RxJS passes
 * an index as the second argument, and a run ignores a second argument that
 * is not an object.
 */
export interface RunFunction<I, T> {
  (input: I): Observable<T>;
  (input: I, context: RequestContext | undefined): Observable<T>;
}
