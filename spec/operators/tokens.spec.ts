import { TestScheduler } from 'rxjs/testing';
import { RxllmError } from '../../src/core/errors';
import type { LlmEvent } from '../../src/core/events';
import { tokens } from '../../src/operators/tokens';
import {
  finishEvent,
  reasoningEvent,
  refusalEvent,
  textEvent,
  toolCallEvent,
  usageEvent,
} from '../../src/testing/events';
import { createTestScheduler } from '../helpers/marbles';

describe('tokens', () => {
  let testScheduler: TestScheduler;
  beforeEach(() => (testScheduler = createTestScheduler()));

  it('emits the text deltas in order and skips every other kind of event', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const events = cold('  -r-a-x-c-b-u-f|', {
        r: reasoningEvent('thinking'),
        a: textEvent('Hel'),
        x: refusalEvent('no'),
        c: toolCallEvent({ id: 'call_1', name: 'f', arguments: '{}' }),
        b: textEvent('lo'),
        u: usageEvent({ prompt_tokens: 1, completion_tokens: 2 }),
        f: finishEvent('stop'),
      });
      const eventsSubs = '   ^-------------!';
      const expected = '     ---a-----b----|';

      expectObservable(events.pipe(tokens())).toBe(expected, { a: 'Hel', b: 'lo' });
      expectSubscriptions(events.subscriptions).toBe(eventsSubs);
    });
  });

  it('drops empty deltas', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const events = cold('  -a-e-b|', { a: textEvent('Hel'), e: textEvent(''), b: textEvent('lo') });
      const expected = '     -a---b|';

      expectObservable(events.pipe(tokens())).toBe(expected, { a: 'Hel', b: 'lo' });
    });
  });

  it('reads only the chosen choice when n > 1', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const events = cold('       -a-x-b-y-(fg)|', {
        a: textEvent('A0'),
        x: textEvent('B0', { choice: 1 }),
        b: textEvent('A1'),
        y: textEvent('B1', { choice: 1 }),
        f: finishEvent('stop'),
        g: finishEvent('stop', { choice: 1 }),
      });
      const expectedChoice0 = '   -a---b-------|';
      const expectedChoice1 = '   ---x---y-----|';

      expectObservable(events.pipe(tokens())).toBe(expectedChoice0, { a: 'A0', b: 'A1' });
      expectObservable(events.pipe(tokens({ choice: 1 }))).toBe(expectedChoice1, { x: 'B0', y: 'B1' });
    });
  });

  it('passes an error through after the tokens before it', () => {
    const error = new RxllmError('connection-lost', 'The connection dropped.', { tokensEmitted: true });
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const events = cold('  -a-b-#', { a: textEvent('Hel'), b: textEvent('lo') }, error);
      const eventsSubs = '   ^----!';
      const expected = '     -a-b-#';

      expectObservable(events.pipe(tokens())).toBe(expected, { a: 'Hel', b: 'lo' }, error);
      expectSubscriptions(events.subscriptions).toBe(eventsSubs);
    });
  });

  it('completes with an empty source', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      expectObservable(cold<LlmEvent>('---|').pipe(tokens())).toBe('---|');
    });
  });

  it('unsubscribes the source when its subscriber leaves', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const events = cold('  -a-b-c-f|', { a: textEvent('A'), b: textEvent('B'), c: textEvent('C'), f: finishEvent() });
      const eventsSubs = '   ^--!     ';
      const unsub = '        ^--!     ';
      const expected = '     -a--     ';

      expectObservable(events.pipe(tokens()), unsub).toBe(expected, { a: 'A' });
      expectSubscriptions(events.subscriptions).toBe(eventsSubs);
    });
  });

  it('rejects a choice that can match no event when it is built', () => {
    expect(() => tokens({ choice: -1 })).toThrow(
      expect.objectContaining({ code: 'invalid-config', message: expect.stringContaining('got -1') }),
    );
    expect(() => tokens({ choice: 0.5 })).toThrow(RxllmError);
  });
});
