import { TestScheduler } from 'rxjs/testing';
import { RxllmError } from '../../src/core/errors';
import { toolCalls } from '../../src/operators/toolCalls';
import { finishEvent, textEvent, toolCallEvent, usageEvent } from '../../src/testing/events';
import { createTestScheduler } from '../helpers/marbles';

describe('toolCalls', () => {
  let testScheduler: TestScheduler;
  beforeEach(() => (testScheduler = createTestScheduler()));

  const weather = { id: 'call_w', name: 'get_weather', arguments: '{"city":"Oslo"}' };
  const time = { id: 'call_t', name: 'get_time', arguments: '{"tz":"CET"}' };

  it('assembles calls from fragments, in call order, once, when the stream completes', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const events = cold('  -a-b-c-u-f|', {
        a: toolCallEvent({ callIndex: 0, id: 'call_w', name: 'get_weather', arguments: '{"ci' }),
        b: toolCallEvent({ callIndex: 0, arguments: 'ty":"Os' }),
        c: toolCallEvent({ callIndex: 0, arguments: 'lo"}' }),
        u: usageEvent({ prompt_tokens: 20, completion_tokens: 9 }),
        f: finishEvent('tool_calls'),
      });
      const eventsSubs = '   ^---------!';
      const expected = '     ----------(c|)';

      expectObservable(events.pipe(toolCalls())).toBe(expected, { c: [weather] });
      expectSubscriptions(events.subscriptions).toBe(eventsSubs);
    });
  });

  it('keeps parallel calls apart when their fragments interleave, ordered by call index', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const events = cold('  -a-b-c-d-e-f|', {
        a: toolCallEvent({ callIndex: 1, id: 'call_t', name: 'get_time', arguments: '{"tz"' }),
        b: toolCallEvent({ callIndex: 0, id: 'call_w', name: 'get_weather', arguments: '{"city"' }),
        c: toolCallEvent({ callIndex: 1, arguments: ':"CET"}' }),
        d: toolCallEvent({ callIndex: 0, arguments: ':"Oslo"' }),
        e: toolCallEvent({ callIndex: 0, arguments: '}' }),
        f: finishEvent('tool_calls'),
      });
      const expected = '     ------------(c|)';

      expectObservable(events.pipe(toolCalls())).toBe(expected, { c: [weather, time] });
    });
  });

  it('leaves no hole for a skipped call index', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const events = cold('  -a-b-f|', {
        a: toolCallEvent({ callIndex: 3, ...time }),
        b: toolCallEvent({ callIndex: 1, ...weather }),
        f: finishEvent('tool_calls'),
      });
      const expected = '     ------(c|)';

      expectObservable(events.pipe(toolCalls())).toBe(expected, { c: [weather, time] });
    });
  });

  it('takes the id and name from whichever fragment carries them first, and ignores repeats', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const events = cold('  -a-b-c-f|', {
        a: toolCallEvent({ callIndex: 0, arguments: '{"city"' }),
        b: toolCallEvent({ callIndex: 0, id: 'call_w', name: 'get_weather', arguments: ':"Oslo"' }),
        c: toolCallEvent({ callIndex: 0, id: 'call_w', name: 'get_weather', arguments: '}' }),
        f: finishEvent('tool_calls'),
      });
      const expected = '     --------(c|)';

      expectObservable(events.pipe(toolCalls())).toBe(expected, { c: [weather] });
    });
  });

  it('emits an empty array when the model called no tool', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const events = cold('  -a-f|', { a: textEvent('Hi'), f: finishEvent('stop') });
      const expected = '     ----(c|)';

      expectObservable(events.pipe(toolCalls())).toBe(expected, { c: [] });
    });
  });

  it('reads only the chosen choice when n > 1', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const events = cold('  -a-b-(fg)|', {
        a: toolCallEvent({ choice: 0, callIndex: 0, ...weather }),
        b: toolCallEvent({ choice: 1, callIndex: 0, ...time }),
        f: finishEvent('tool_calls'),
        g: finishEvent('tool_calls', { choice: 1 }),
      });
      const expected = '     ---------(c|)';

      expectObservable(events.pipe(toolCalls())).toBe(expected, { c: [weather] });
      expectObservable(events.pipe(toolCalls({ choice: 1 }))).toBe(expected, { c: [time] });
    });
  });

  it('emits nothing but the error when the stream fails mid-call', () => {
    const error = new RxllmError('connection-lost', 'The connection dropped.', { tokensEmitted: true });
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const events = cold('  -a-#', { a: toolCallEvent({ ...weather, arguments: '{"ci' }) }, error);
      const eventsSubs = '   ^--!';
      const expected = '     ---#';

      expectObservable(events.pipe(toolCalls())).toBe(expected, undefined, error);
      expectSubscriptions(events.subscriptions).toBe(eventsSubs);
    });
  });

  it('emits nothing and unsubscribes the source when its subscriber leaves before the end', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const events = cold('  -a-b-f|', { a: toolCallEvent(weather), b: toolCallEvent({ callIndex: 1, ...time }), f: finishEvent() });
      const eventsSubs = '   ^--!   ';
      const unsub = '        ^--!   ';
      const expected = '     ----   ';

      expectObservable(events.pipe(toolCalls()), unsub).toBe(expected);
      expectSubscriptions(events.subscriptions).toBe(eventsSubs);
    });
  });

  it('assembles per subscription: two subscribers of one piped observable do not share fragments', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const events = cold('  -a-b|', {
        a: toolCallEvent({ callIndex: 0, id: 'call_w', name: 'get_weather', arguments: '{"city":' }),
        b: toolCallEvent({ callIndex: 0, arguments: '"Oslo"}' }),
      });
      const eventsSubs = ['  ^---!  ', '  --^---!'];
      const late = '         --^     ';
      const expectedFirst = '----(c|)';
      const expectedLate = ' ------(c|)';
      const calls = events.pipe(toolCalls());

      expectObservable(calls).toBe(expectedFirst, { c: [weather] });
      expectObservable(calls, late).toBe(expectedLate, { c: [weather] });
      expectSubscriptions(events.subscriptions).toBe(eventsSubs);
    });
  });

  it('rejects a choice that can match no event when it is built, naming itself', () => {
    expect(() => toolCalls({ choice: 1.5 })).toThrow(
      new RxllmError('invalid-config', 'toolCalls(): `choice` must be an integer ≥ 0 (the choice index for n > 1), got 1.5.'),
    );
  });
});
