/*
 * A scheduler that fails instead of spinning: a regression that reschedules forever at one
 * virtual instant (where TestScheduler's maxFrames cannot help, since the frame never moves)
 * becomes a test failure rather than a hung test run.
 */
import type { SchedulerAction, SchedulerLike } from 'rxjs';

/**
 * `inner`, except that after `limit` runs of the actions scheduled through it (reschedules
 * included) the next run throws, which fails `TestScheduler.run()`.
 */
export function boundedScheduler(inner: SchedulerLike, limit: number): SchedulerLike & { readonly runs: number } {
  let runs = 0;
  return {
    now: () => inner.now(),
    get runs() {
      return runs;
    },
    schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay?: number, state?: T) {
      return inner.schedule<T>(
        function (this: SchedulerAction<T>, current?: T) {
          if (++runs > limit) throw new Error(`boundedScheduler: more than ${limit} scheduled runs; the schedule spins at ${inner.now()}`);
          work.call(this, current);
        },
        delay,
        state,
      );
    },
  };
}
