import { RxllmError } from '../../src/core/errors';
import { finalValue } from '../../src/operators/finalValue';
import type { Progress } from '../../src/core/Progress';
import { createTestScheduler } from '../helpers/marbles';

const waiting: Progress<string> = { status: 'waiting', startedAt: 0 };
const streaming: Progress<string> = { status: 'streaming', startedAt: 0, firstTokenAt: 2 };
const done: Progress<string> = { status: 'done', value: 'Hello', startedAt: 0, firstTokenAt: 2, endedAt: 5 };

describe('finalValue', () => {
  it('emits the done state\'s value when the run completes', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const states = cold('  w-s--(d|)', { w: waiting, s: streaming, d: done });
      const statesSubs = '   ^----!   ';
      const expected = '     -----(v|)';

      expectObservable(states.pipe(finalValue('greet'))).toBe(expected, { v: 'Hello' });
      expectSubscriptions(states.subscriptions).toBe(statesSubs);
    });
  });

  it('errors, instead of completing empty, when the run ends without a done state', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const states = cold('  w-s--|', { w: waiting, s: streaming });
      const expected = '     -----#';
      const error = new RxllmError(
        'incomplete-stream',
        `"greet" completed without a final value: its run() must end with a { status: 'done', value } state. ` +
          `If it can legitimately produce nothing, end it with a done state carrying a default value.`,
      );

      expectObservable(states.pipe(finalValue('greet'))).toBe(expected, undefined, error);
    });
  });

  it('passes the run\'s error through and unsubscribes it when unsubscribed', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const failure = new RxllmError('timeout', 'no first token within 100 ms');
      const failing = cold('  w-#', { w: waiting }, failure);
      const slow = cold('     w-s-----(d|)', { w: waiting, s: streaming, d: done });
      const slowSubs = '      ^--!        ';

      expectObservable(failing.pipe(finalValue())).toBe('--#', undefined, failure);
      expectObservable(slow.pipe(finalValue()), '^--!').toBe('');
      expectSubscriptions(slow.subscriptions).toBe(slowSubs);
    });
  });
});
