import { asyncScheduler, combineLatest, defer, map, Observable, type SchedulerLike, Subscription } from 'rxjs';
import * as s from '../internal/check.js';
import { type RequestContext, withDeadline } from '../core/context.js';
import { RxllmError } from '../core/errors.js';
import { schedulerSchema, validateConfig } from '../core/validateConfig.js';
import { doneValue } from '../operators/doneValue.js';
import { requireDone } from '../operators/requireDone.js';
import { beforeDeadline, runDeadlineSchema } from './beforeDeadline.js';
import { finalValueOnly } from './finalValueOnly.js';
import type { Progress, RunFunction, Runnable } from '../core/Progress.js';
import { runContext } from './runContext.js';
import { stepValueRun } from './step.js';
import { withFields } from '../internal/withFields.js';

/** Options for {@link parallel}. */
export interface ParallelConfig {
  /**
   * The clock for the group's `startedAt` / `firstTokenAt` / `endedAt`, and
   * for the deadline.
   * @defaultValue asyncScheduler
   */
  scheduler?: SchedulerLike;
  /**
   * Milliseconds, from the moment a run is subscribed, by which the whole
   * group must end. Each run passes every branch a context whose `deadline`
   * is that time on the scheduler's clock (or the run's own context deadline,
   * if earlier), so every request knows what remains; a branch still running
   * then is cancelled and the group errors with `timeout`.
   * @defaultValue no deadline (only the one in a run's context, if any)
   */
  deadline?: number;
}

/** The branches of a {@link parallel} group: named {@link Runnable}s (steps, groups, graphs). */
export type Branches = Record<string, Runnable<unknown, unknown>>;

/** The state type a branch emits (a {@link StepState} for a step). */
export type BranchState<R> = R extends { run(input: never): Observable<infer S> } ? S : never;

/** The final value of a branch. */
export type BranchValue<R> = BranchState<R> extends infer S
  ? S extends {
      /** The branch's `done` state… */
      status: 'done';
      /** …carries its final value. */
      value: infer V;
    }
    ? V
    : never
  : never;

/** The record of final values of a group: `{ sentiment: 'positive', summary: '...', ... }`. */
export type ParallelValue<B> = { [K in keyof B]: BranchValue<B[K]> };

/** The input a group accepts: what every branch accepts. */
export type ParallelInput<B> = {
  [K in keyof B]: (input: B[K] extends { run(input: infer I): unknown } ? I : never) => void;
}[keyof B] extends (input: infer I) => void
  ? I
  : never;

/** The fields every {@link ParallelState} has, whatever its `status`. */
export interface ParallelStateBase<B> {
  /** The latest state of every branch. */
  branches: { [K in keyof B]: BranchState<B[K]> };
  /** When the group started (`scheduler.now()`, ms). */
  startedAt: number;
  /** When the first token of any branch arrived. */
  firstTokenAt?: number;
}

/**
 * One snapshot of a {@link parallel} group: every branch's latest state, and
 * once all are done, the record of values. A {@link Progress}, so groups nest.
 */
export type ParallelState<B> =
  | (ParallelStateBase<B> & {
      /** `waiting` until any branch's first token, then `streaming` until every branch is done. */
      status: 'waiting' | 'streaming';
    })
  | (ParallelStateBase<B> & {
      /** Discriminant: every branch is done. */
      status: 'done';
      /** The record of every branch's final value. */
      value: ParallelValue<B>;
      /** When the last branch ended (`scheduler.now()`, ms). */
      endedAt: number;
    });

/**
 * A group of branches run at once on the same input. See {@link parallel}.
 * Both views take an optional {@link RequestContext} from a parent, passed
 * on to every branch (with the group's deadline applied).
 */
export interface Parallel<I, B> extends Runnable<I, ParallelValue<B>, ParallelState<B>> {
  /** Every snapshot (combineLatest semantics), ending with a `done` one carrying the record. */
  readonly run: RunFunction<I, ParallelState<B>>;
  /** Only the record of final values, when every branch is done (forkJoin semantics). */
  readonly value: RunFunction<I, ParallelValue<B>>;
}

/**
 * Runs named branches at once on the same input: wall time is the slowest
 * branch, not the sum.
 *
 * ```text
 * sentiment:  w--s-(d|)
 * summary:    w------s------(d|)
 * keywords:   w-----s---(d|)
 * value:      --------------(r|)       r = { sentiment, summary, keywords }
 * run:        a--b-cd-e-f---(g|)       one snapshot per branch state (combineLatest)
 * ```
 *
 * `value(input)` emits the record of final values once, when every branch is
 * done, and completes. `run(input)` emits a {@link ParallelState} for every
 * branch state (all branches' latest `textSoFar` for a live view), the last one
 * `done` with the record. Both are fail-fast: the first branch error errors
 * the group and unsubscribes the other branches, aborting their requests (under
 * `value()`, a branch that fails as it starts leaves the branches after it unstarted). A
 * branch that completes without a `done` state is an `incomplete-stream`
 * {@link RxllmError} naming it, never a silent empty completion (forkJoin's
 * trap). To keep going past a failed branch, use {@link graph} with
 * `onError: 'continue'`. Cold: every branch starts on subscribe, per
 * subscription. Unsubscribe cancels every branch.
 *
 * `value()` shows no token, so its step branches ask for one JSON body each
 * when their request leaves `stream` unset (see {@link step}); `run()` streams.
 *
 * Context and deadline: `run(input, context?)` and `value(input, context?)`
 * call every branch as `branch.run(input, context)`, with the context's
 * `deadline` narrowed to `config.deadline` milliseconds after subscribe (the
 * earlier one wins), so each branch's requests carry the time that remains.
 * A branch still running at the deadline is unsubscribed (aborting its
 * request) and the group errors with a `timeout` {@link RxllmError} naming
 * it; if the deadline has already passed at subscribe, nothing is started.
 *
 * @throws {@link RxllmError} `invalid-config` at construction when there are
 * no branches, a branch has no `run` method, or an option is wrong.
 *
 * @example
 * ```ts
 * const analysis = parallel({ sentiment, summary, keywords });
 * text$.pipe(switchMap(analysis.value)).subscribe(({ sentiment, summary, keywords }) => show(...));
 * analysis.run(text).subscribe(({ branches }) => render(branches.summary.textSoFar));
 * // Every branch's requests, retries included, within 3 s of the start:
 * parallel({ sentiment, summary, keywords }, { deadline: 3_000 });
 * ```
 * @see step
 * @see graph
 */
export function parallel<B extends Branches>(branches: B, config: ParallelConfig = {}): Parallel<ParallelInput<B>, B> {
  const names = validate(branches);
  const { scheduler = asyncScheduler, deadline } = validateConfig('parallel', configSchema, config);
  const start = (name: string, input: unknown, context: RequestContext | undefined) =>
    (branches[name] as Runnable<unknown, unknown>)
      .run(input, context)
      .pipe(beforeDeadline({ what: `parallel branch "${name}"`, step: name }, context, scheduler));
  // At subscribe: a relative deadline counts from the start of each run.
  const contextAtStart = (context: unknown) => withDeadline(runContext(context), deadline, scheduler);

  const run = ((input: ParallelInput<B>, context?: unknown): Observable<ParallelState<B>> =>
    defer(() => {
      // Per subscription: each run has its own clock readings and its own deadline.
      const branchContext = contextAtStart(context);
      const startedAt = scheduler.now();
      let firstTokenAt: number | undefined;
      const sources = Object.fromEntries(
        names.map((name) => [name, start(name, input, branchContext).pipe(requireDone(`parallel branch "${name}"`))]),
      );
      return combineLatest(sources).pipe(
        map((states): ParallelState<B> => {
          const all = Object.values(states) as Progress<unknown>[];
          if (firstTokenAt === undefined && all.some((state) => state.firstTokenAt !== undefined)) {
            firstTokenAt = scheduler.now();
          }
          const base = {
            branches: states as ParallelStateBase<B>['branches'],
            startedAt,
            ...(firstTokenAt === undefined ? {} : { firstTokenAt }),
          };
          if (all.every((state) => state.status === 'done')) {
            const value = Object.fromEntries(names.map((name) => [name, (states[name] as { value: unknown }).value]));
            return withFields(base, { status: 'done' as const, value: value as ParallelValue<B>, endedAt: scheduler.now() });
          }
          return withFields(base, { status: all.some((state) => state.status !== 'waiting') ? ('streaming' as const) : ('waiting' as const) });
        }),
      );
    })) as RunFunction<ParallelInput<B>, ParallelState<B>>;

  // value(): a step branch runs value-only (its value, no states: see step()); any other branch
  // runs as run() does, its `done` state's value taken.
  const valueRuns = names.map((name) => stepValueRun(branches[name] as Runnable<unknown, unknown>));
  const allSteps = valueRuns.every((run) => run !== undefined);
  const startValue = (i: number, input: unknown, context: RequestContext | undefined): Observable<unknown> => {
    const name = names[i]!;
    const valueRun = valueRuns[i];
    return valueRun
      ? valueRun(input, context).pipe(beforeDeadline({ what: `parallel branch "${name}"`, step: name }, context, scheduler))
      : start(name, input, context).pipe(doneValue(`parallel branch "${name}"`));
  };

  // forkJoin's semantics with one counter, not forkJoin over doneValue per branch: fail-fast (the
  // first error unsubscribes the rest, and no branch is started after it), the record in the
  // branches' order once every branch completed with a value.
  const value = ((input: ParallelInput<B>, context?: unknown): Observable<ParallelValue<B>> =>
    new Observable<ParallelValue<B>>((subscriber) => {
      const atStart = contextAtStart(context);
      // Only the record of final values is read: a branch that is not a step (a nested group) may
      // still ask for one JSON body per step, through the mark on its context.
      const branchContext = allSteps ? atStart : finalValueOnly(atStart);
      const values: unknown[] = new Array(names.length);
      const has: boolean[] = new Array(names.length).fill(false);
      let remaining = names.length;
      const subscription = new Subscription();
      for (let i = 0; i < names.length && !subscriber.closed; i++) {
        subscription.add(
          startValue(i, input, branchContext).subscribe({
            next: (v) => {
              values[i] = v;
              has[i] = true;
            },
            error: (error: unknown) => subscriber.error(error),
            complete: () => {
              // A branch that ends without a value ends the group without one (forkJoin's rule;
              // a step, and doneValue, error instead).
              if (!has[i]) return subscriber.complete();
              if (--remaining > 0) return;
              const record: Record<string, unknown> = {};
              for (let k = 0; k < names.length; k++) record[names[k]!] = values[k];
              subscriber.next(record as ParallelValue<B>);
              subscriber.complete();
            },
          }),
        );
      }
      return subscription;
    })) as RunFunction<ParallelInput<B>, ParallelValue<B>>;

  return { run, value };
}

const configSchema = s.strictObject({
  scheduler: schedulerSchema.optional(),
  deadline: runDeadlineSchema.optional(),
});

function validate(branches: unknown): string[] {
  if (typeof branches !== 'object' || branches === null || Object.keys(branches).length === 0) {
    throw new RxllmError('invalid-config', 'parallel() needs at least one branch: parallel({ sentiment, summary }).');
  }
  const names = Object.keys(branches);
  const bad = names.filter((name) => typeof (branches as Record<string, { run?: unknown }>)[name]?.run !== 'function');
  if (bad.length) {
    throw new RxllmError(
      'invalid-config',
      `parallel(): branch${bad.length === 1 ? '' : 'es'} ${bad.map((name) => `"${name}"`).join(', ')} ` +
        `must be a step (or any object with a run(input) method).`,
    );
  }
  return names;
}
