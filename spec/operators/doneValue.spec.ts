import { RxllmError } from '../../src/core/errors';
import { doneValue } from '../../src/operators/doneValue';
import type { Progress } from '../../src/core/Progress';
import { createTestScheduler } from '../helpers/marbles';

const waiting: Progress<string> = { status: 'waiting', startedAt: 0 };
const done: Progress<string> = { status: 'done', value: 'Hello', startedAt: 0, endedAt: 5 };

describe('doneValue (finalValue naming the run its own way)', () => {
  it('emits the last done value on completion', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const states = cold('w-(d|)', { w: waiting, d: done });
      expectObservable(states.pipe(doneValue('parallel branch "greet"'))).toBe('--(v|)', { v: 'Hello' });
    });
  });

  it('names the run as given when it completes without a done state, or when done is not last', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const error = new RxllmError(
        'incomplete-stream',
        `parallel branch "greet" completed without a final value: its run() must end with a { status: 'done', value } state. ` +
          `If it can legitimately produce nothing, end it with a done state carrying a default value.`,
      );
      expectObservable(cold('w-|', { w: waiting }).pipe(doneValue('parallel branch "greet"'))).toBe('--#', undefined, error);
      expectObservable(cold('d-w-|', { w: waiting, d: done }).pipe(doneValue('parallel branch "greet"'))).toBe('----#', undefined, error);
    });
  });
});
