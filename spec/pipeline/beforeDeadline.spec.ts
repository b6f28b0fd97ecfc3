import { mergeMap, type Observable } from 'rxjs';
import { RxllmError } from '../../src/core/errors';
import { beforeDeadline } from '../../src/pipeline/beforeDeadline';
import { createTestScheduler } from '../helpers/marbles';

const subject = { what: 'graph node "reply"', step: 'reply' };

describe('beforeDeadline', () => {
  it('leaves a run without a deadline untouched (the same observable)', () => {
    createTestScheduler().run(({ cold }) => {
      const run = cold('--a|');
      expect(run.pipe(beforeDeadline(subject, undefined, createTestScheduler()))).toBe(run);
      expect(run.pipe(beforeDeadline(subject, { step: 'x' }, createTestScheduler()))).toBe(run);
    });
  });

  it('passes a run that ends in time through, values, completion and errors alike', () => {
    const testScheduler = createTestScheduler();
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const run = cold('  --a--|');
      const runSubs = '   ^----!';
      const failure = new RxllmError('server', 'HTTP 503');
      expectObservable(run.pipe(beforeDeadline(subject, { deadline: 10 }, testScheduler))).toBe('--a--|');
      expectSubscriptions(run.subscriptions).toBe(runSubs);
      expectObservable(cold('--#', undefined, failure).pipe(beforeDeadline(subject, { deadline: 10 }, testScheduler))).toBe('--#', undefined, failure);
    });
  });

  it('cuts a run off at the deadline with a timeout error naming it', () => {
    const testScheduler = createTestScheduler();
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const run = cold('      --a-----|');
      const runSubs = '   --^---!     ';
      const start = hot(' --x         ');
      const late = new RxllmError(
        'timeout',
        `graph node "reply" did not finish by the run's deadline and was cancelled: it started with 4 ms left ` +
          `(deadline 6 on the scheduler's clock). ` +
          'Give the run a longer `deadline`, or make this step faster (a smaller model, a shorter answer).',
        { step: 'reply' },
      );
      const guarded = run.pipe(beforeDeadline(subject, { deadline: 6 }, testScheduler));
      expectObservable(start.pipe(startAt(guarded))).toBe('----a-#', undefined, late);
      expectSubscriptions(run.subscriptions).toBe(runSubs);
    });
  });

  it('does not subscribe a run whose deadline has passed', () => {
    const testScheduler = createTestScheduler();
    testScheduler.run(({ cold, hot, expectObservable }) => {
      const run = cold('--a|');
      const notStarted = new RxllmError(
        'timeout',
        `graph node "reply" was not started: the run's deadline had passed 2 ms before it was ready ` +
          `(deadline 3 on the scheduler's clock), so nothing was sent. ` +
          'Give the run a longer `deadline`, or make the steps before this one faster.',
        { step: 'reply' },
      );
      const guarded = run.pipe(beforeDeadline(subject, { deadline: 3 }, testScheduler));
      expectObservable(hot('-----x').pipe(startAt(guarded))).toBe('-----#', undefined, notStarted);
      testScheduler.flush();
      expect(run.subscriptions).toEqual([]);
    });
  });
});

/** Subscribes `inner` when the trigger emits (a run starting later than frame 0). */
function startAt<T>(inner: Observable<T>) {
  return (trigger: Observable<unknown>) => trigger.pipe(mergeMap(() => inner));
}
