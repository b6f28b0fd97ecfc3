import { from } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { RxllmError } from '../../src/core/errors';
import { textSoFar } from '../../src/operators/textSoFar';
import { finishEvent, reasoningEvent, textEvent, usageEvent } from '../../src/testing/events';
import { createTestScheduler } from '../helpers/marbles';

describe('textSoFar', () => {
  let testScheduler: TestScheduler;
  beforeEach(() => (testScheduler = createTestScheduler()));

  const values = {
    a: textEvent('Hel'),
    b: textEvent('lo'),
    c: textEvent(' world'),
    e: textEvent(''),
    r: reasoningEvent('hmm'),
    u: usageEvent({ prompt_tokens: 3, completion_tokens: 3 }),
    f: finishEvent('stop'),
  };

  it('emits the growing text after each delta and completes with the source', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const events = cold('  -r-a-b-e-c-u-f|', values);
      const eventsSubs = '   ^-------------!';
      const expected = '     ---a-b---c----|';

      expectObservable(events.pipe(textSoFar())).toBe(expected, { a: 'Hel', b: 'Hello', c: 'Hello world' });
      expectSubscriptions(events.subscriptions).toBe(eventsSubs);
    });
  });

  it('reads only the chosen choice when n > 1', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const events = cold('  -a-x-b-y-|', {
        a: textEvent('Hel'),
        x: textEvent('Bon', { choice: 1 }),
        b: textEvent('lo'),
        y: textEvent('jour', { choice: 1 }),
      });
      const expected0 = '    -a---b---|';
      const expected1 = '    ---x---y-|';

      expectObservable(events.pipe(textSoFar())).toBe(expected0, { a: 'Hel', b: 'Hello' });
      expectObservable(events.pipe(textSoFar({ choice: 1 }))).toBe(expected1, { x: 'Bon', y: 'Bonjour' });
    });
  });

  it('passes an error through after the partial text it already emitted', () => {
    const error = new RxllmError('connection-lost', 'The connection dropped.', { partialText: 'Hello', tokensEmitted: true });
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const events = cold('  -a-b-#', values, error);
      const eventsSubs = '   ^----!';
      const expected = '     -a-b-#';

      expectObservable(events.pipe(textSoFar())).toBe(expected, { a: 'Hel', b: 'Hello' }, error);
      expectSubscriptions(events.subscriptions).toBe(eventsSubs);
    });
  });

  it('unsubscribes the source when its subscriber leaves', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const events = cold('  -a-b-c-f|', values);
      const eventsSubs = '   ^--!     ';
      const unsub = '        ^--!     ';
      const expected = '     -a--     ';

      expectObservable(events.pipe(textSoFar()), unsub).toBe(expected, { a: 'Hel' });
      expectSubscriptions(events.subscriptions).toBe(eventsSubs);
    });
  });

  it('keeps the text per subscription: two subscribers of one piped observable do not share it', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const events = cold('  -a-b|', values);
      const eventsSubs = [
        '                    ^---!   ',
        '                    --^---! ',
      ];
      const late = '         --^     ';
      const expectedFirst = '-a-b|   ';
      const expectedLate = ' ---a-b| ';
      const soFar = events.pipe(textSoFar());

      expectObservable(soFar).toBe(expectedFirst, { a: 'Hel', b: 'Hello' });
      expectObservable(soFar, late).toBe(expectedLate, { a: 'Hel', b: 'Hello' });
      expectSubscriptions(events.subscriptions).toBe(eventsSubs);
    });
  });

  it('rejects a choice that can match no event when it is built, naming itself', () => {
    expect(() => textSoFar({ choice: 1.5 })).toThrow(
      new RxllmError('invalid-config', 'textSoFar(): `choice` must be an integer ≥ 0 (the choice index for n > 1), got 1.5.'),
    );
  });

  // The text is kept in flat blocks of deltas (src/internal/PartialText.ts): every emitted value, across block
  // boundaries and past a long delta, must be exactly the concatenation so far, and stay what it was.
  it('emits exactly the concatenation so far for a long answer, across block boundaries and long deltas, for any choice', () => {
    const deltas = Array.from({ length: 150 }, (_, i) => (i === 70 ? 'L'.repeat(300) : i % 9 === 0 ? '' : `t${i} `));
    for (const choice of [0, 2]) {
      const events = [
        ...deltas.flatMap((delta, i) => [textEvent(delta, { choice }), textEvent(`other${i}`, { choice: choice + 1 })]),
        finishEvent('stop', { choice }),
      ];
      const seen: string[] = [];
      let completed = false;
      from(events)
        .pipe(textSoFar({ choice }))
        .subscribe({ next: (text) => seen.push(text), complete: () => (completed = true) });
      const expected = deltas.filter((delta) => delta !== '').map((_, i, kept) => kept.slice(0, i + 1).join(''));
      expect(seen).toEqual(expected);
      expect(completed).toBe(true);
    }
  });
});
