import { RxllmError } from '../../src/core/errors';
import { requireDone } from '../../src/operators/requireDone';
import type { Progress } from '../../src/core/Progress';
import { createTestScheduler } from '../helpers/marbles';

const waiting: Progress<string> = { status: 'waiting', startedAt: 0 };
const done: Progress<string> = { status: 'done', value: 'Hello', startedAt: 0, endedAt: 5 };
const values = { w: waiting, d: done };

describe('requireDone', () => {
  it('passes every state through and completes after a done state', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const states = cold(' w--(d|)', values);
      const statesSubs = '  ^--!   ';
      expectObservable(states.pipe(requireDone('graph node "greet"'))).toBe('w--(d|)', values);
      expectSubscriptions(states.subscriptions).toBe(statesSubs);
    });
  });

  it('errors incomplete-stream, naming the run, instead of completing without a done state', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const error = new RxllmError(
        'incomplete-stream',
        `graph node "greet" completed without a final value: its run() must end with a { status: 'done', value } state. ` +
          `If it can legitimately produce nothing, end it with a done state carrying a default value.`,
      );
      expectObservable(cold('w--|', values).pipe(requireDone('graph node "greet"'))).toBe('w--#', values, error);
    });
  });

  it('passes the run\'s error on, and tracks each subscription on its own', () => {
    createTestScheduler().run(({ cold, hot, expectObservable }) => {
      const failure = new RxllmError('timeout', 'no first token within 100 ms');
      expectObservable(cold('w-#', values, failure).pipe(requireDone('x'))).toBe('w-#', values, failure);
      // One operator instance, two runs: the first run's done state does not excuse the second.
      const guarded = requireDone<Progress<string>>('x');
      const first = cold('(d|)', values);
      const second = hot('--w--|', values);
      expectObservable(guarded(first)).toBe('(d|)', values);
      expectObservable(guarded(second)).toBe(
        '--w--#',
        values,
        new RxllmError(
          'incomplete-stream',
          `x completed without a final value: its run() must end with a { status: 'done', value } state. ` +
            `If it can legitimately produce nothing, end it with a done state carrying a default value.`,
        ),
      );
    });
  });
});
