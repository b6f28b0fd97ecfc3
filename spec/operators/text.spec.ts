import { from, lastValueFrom, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { RxllmError } from '../../src/core/errors';
import { text } from '../../src/operators/text';
import { finishEvent, reasoningEvent, textEvent, toolCallEvent, usageEvent } from '../../src/testing/events';
import { createTestScheduler } from '../helpers/marbles';

describe('text', () => {
  let testScheduler: TestScheduler;
  beforeEach(() => (testScheduler = createTestScheduler()));

  const values = {
    a: textEvent('Hel'),
    b: textEvent('lo'),
    r: reasoningEvent('hmm'),
    c: toolCallEvent({ id: 'call_1', name: 'lookup', arguments: '{}' }),
    x: textEvent('Bonjour', { choice: 1 }),
    u: usageEvent({ prompt_tokens: 3, completion_tokens: 2 }),
    f: finishEvent('stop'),
    t: finishEvent('tool_calls'),
  };

  it('emits the whole text once, when the stream completes', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const events = cold('  -a-r-b-u-f|', values);
      const eventsSubs = '   ^---------!';
      const expected = '     ----------(t|)';

      expectObservable(events.pipe(text())).toBe(expected, { t: 'Hello' });
      expectSubscriptions(events.subscriptions).toBe(eventsSubs);
    });
  });

  it("emits '' for an answer with no text (tool calls only)", () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const events = cold('  -c-t|', values);
      const expected = '     ----(e|)';

      expectObservable(events.pipe(text())).toBe(expected, { e: '' });
    });
  });

  it('reads only the chosen choice when n > 1', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const events = cold('  -a-x-b-|', values);
      const expected = '     -------(t|)';

      expectObservable(events.pipe(text())).toBe(expected, { t: 'Hello' });
      expectObservable(events.pipe(text({ choice: 1 }))).toBe(expected, { t: 'Bonjour' });
    });
  });

  it('emits nothing but the error when the stream fails: a partial answer is never passed off as whole', () => {
    const error = new RxllmError('connection-lost', 'The connection dropped.', { partialText: 'Hello', tokensEmitted: true });
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const events = cold('  -a-b-#', values, error);
      const eventsSubs = '   ^----!';
      const expected = '     -----#';

      expectObservable(events.pipe(text())).toBe(expected, undefined, error);
      expectSubscriptions(events.subscriptions).toBe(eventsSubs);
    });
  });

  it('emits nothing and unsubscribes the source when its subscriber leaves before the end', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const events = cold('  -a-b-f|', values);
      const eventsSubs = '   ^--!   ';
      const unsub = '        ^--!   ';
      const expected = '     ----   ';

      expectObservable(events.pipe(text()), unsub).toBe(expected);
      expectSubscriptions(events.subscriptions).toBe(eventsSubs);
    });
  });

  it('keeps the text per subscription: two subscribers of one piped observable do not share it', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const events = cold('  -a-b|', values);
      const eventsSubs = ['  ^---!  ', '  --^---!'];
      const late = '         --^     ';
      const expectedFirst = '----(t|)';
      const expectedLate = ' ------(t|)';
      const whole = events.pipe(text());

      expectObservable(whole).toBe(expectedFirst, { t: 'Hello' });
      expectObservable(whole, late).toBe(expectedLate, { t: 'Hello' });
      expectSubscriptions(events.subscriptions).toBe(eventsSubs);
    });
  });

  it('rejects a choice that can match no event when it is built, naming itself', () => {
    expect(() => text({ choice: 1.5 })).toThrow(
      new RxllmError('invalid-config', 'text(): `choice` must be an integer ≥ 0 (the choice index for n > 1), got 1.5.'),
    );
  });

  it('emits exactly the whole concatenation for a long answer, across block boundaries and long deltas, for any choice', async () => {
    const deltas = Array.from({ length: 150 }, (_, i) => (i === 70 ? 'L'.repeat(300) : i % 9 === 0 ? '' : `t${i} `));
    for (const choice of [0, 2]) {
      const events = [...deltas.flatMap((delta, i) => [textEvent(delta, { choice }), textEvent(`other${i}`, { choice: choice + 1 })]), finishEvent('stop', { choice })];
      await expect(lastValueFrom(from(events).pipe(text({ choice }), toArray()))).resolves.toEqual([deltas.join('')]);
    }
  });
});
