import { TestScheduler } from 'rxjs/testing';
import { RxllmError } from '../../src/core/errors';
import type { LlmEvent } from '../../src/core/events';
import { result, type LlmResult } from '../../src/operators/result';
import {
  finishEvent,
  reasoningEvent,
  refusalEvent,
  textEvent,
  toolCallEvent,
  usageEvent,
} from '../../src/testing/events';
import { createTestScheduler } from '../helpers/marbles';

describe('result', () => {
  let testScheduler: TestScheduler;
  beforeEach(() => (testScheduler = createTestScheduler()));

  const usage = usageEvent({ prompt_tokens: 20, completion_tokens: 12 });

  it('assembles text, reasoning, refusal, tool calls, usage and finish reason once, on completion', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const events = cold('  -r-a-c-b-d-u-f|', {
        r: reasoningEvent('The user wants weather.'),
        a: textEvent('Let me '),
        c: toolCallEvent({ callIndex: 0, id: 'call_w', name: 'get_weather', arguments: '{"city":' }),
        b: textEvent('check.'),
        d: toolCallEvent({ callIndex: 0, arguments: '"Oslo"}' }),
        u: usage,
        f: finishEvent('tool_calls'),
      });
      const eventsSubs = '   ^-------------!';
      const expected = '     --------------(r|)';
      const whole: LlmResult = {
        text: 'Let me check.',
        reasoning: 'The user wants weather.',
        refusal: '',
        toolCalls: [{ id: 'call_w', name: 'get_weather', arguments: '{"city":"Oslo"}' }],
        usage: usage.usage,
        finishReason: 'tool_calls',
      };

      expectObservable(events.pipe(result())).toBe(expected, { r: whole });
      expectSubscriptions(events.subscriptions).toBe(eventsSubs);
    });
  });

  it('reads only the chosen choice when n > 1, with the usage of the whole request', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const events = cold('  -a-x-y-b-(fg)-u|', {
        a: textEvent('Yes'),
        x: textEvent('No', { choice: 1 }),
        y: refusalEvent('Cannot say.', { choice: 1 }),
        b: textEvent('!'),
        f: finishEvent('stop'),
        g: finishEvent('content_filter', { choice: 1 }),
        u: usage,
      });
      const expected = '     ---------------(r|)';

      expectObservable(events.pipe(result())).toBe(expected, {
        r: { text: 'Yes!', reasoning: '', refusal: '', toolCalls: [], usage: usage.usage, finishReason: 'stop' },
      });
      expectObservable(events.pipe(result({ choice: 1 }))).toBe(expected, {
        r: { text: 'No', reasoning: '', refusal: 'Cannot say.', toolCalls: [], usage: usage.usage, finishReason: 'content_filter' },
      });
    });
  });

  it('leaves usage and finishReason out when the stream did not report them', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const events = cold('  -a|', { a: textEvent('Hi') });
      const expected = '     --(r|)';

      expectObservable(events.pipe(result())).toBe(expected, {
        r: { text: 'Hi', reasoning: '', refusal: '', toolCalls: [] },
      });
    });
  });

  it('assembles interleaved parallel tool calls by call index, with no hole for a skipped index', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const events = cold('  -a-b-c-d-f|', {
        a: toolCallEvent({ callIndex: 2, id: 'call_t', name: 'get_time', arguments: '{"tz":' }),
        b: toolCallEvent({ callIndex: 0, id: 'call_w', name: 'get_weather', arguments: '{"city":' }),
        c: toolCallEvent({ callIndex: 2, arguments: '"CET"}' }),
        d: toolCallEvent({ callIndex: 0, arguments: '"Oslo"}' }),
        f: finishEvent('tool_calls'),
      });
      const expected = '     ----------(r|)';

      expectObservable(events.pipe(result())).toBe(expected, {
        r: {
          text: '',
          reasoning: '',
          refusal: '',
          toolCalls: [
            { id: 'call_w', name: 'get_weather', arguments: '{"city":"Oslo"}' },
            { id: 'call_t', name: 'get_time', arguments: '{"tz":"CET"}' },
          ],
          finishReason: 'tool_calls',
        },
      });
    });
  });

  it('keeps a call whatever its index, even one no array could hold', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const events = cold('  -a-b|', {
        a: toolCallEvent({ callIndex: 2 ** 32, id: 'call_t', name: 'get_time', arguments: '{}' }),
        b: toolCallEvent({ callIndex: 7, id: 'call_w', name: 'get_weather', arguments: '{}' }),
      });
      const expected = '     ----(r|)';

      expectObservable(events.pipe(result())).toBe(expected, {
        r: {
          text: '',
          reasoning: '',
          refusal: '',
          toolCalls: [
            { id: 'call_w', name: 'get_weather', arguments: '{}' },
            { id: 'call_t', name: 'get_time', arguments: '{}' },
          ],
        },
      });
    });
  });

  it('emits nothing but the error when the stream fails: a partial answer is never passed off as whole', () => {
    const error = new RxllmError('incomplete-stream', 'The stream ended without [DONE].', { partialText: 'Let me', tokensEmitted: true });
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const events = cold('  -a-c-#', { a: textEvent('Let me'), c: toolCallEvent({ id: 'call_w', name: 'f', arguments: '{' }) }, error);
      const eventsSubs = '   ^----!';
      const expected = '     -----#';

      expectObservable(events.pipe(result())).toBe(expected, undefined, error);
      expectSubscriptions(events.subscriptions).toBe(eventsSubs);
    });
  });

  it('emits nothing and unsubscribes the source when its subscriber leaves before the end', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const events = cold('  -a-b-f|', { a: textEvent('Hel'), b: textEvent('lo'), f: finishEvent() });
      const eventsSubs = '   ^---!  ';
      const unsub = '        ^---!  ';
      const expected = '     -----  ';

      expectObservable(events.pipe(result()), unsub).toBe(expected);
      expectSubscriptions(events.subscriptions).toBe(eventsSubs);
    });
  });

  it('assembles per subscription: two subscribers of one piped observable do not share state', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const events = cold('  -a-c-f|', {
        a: textEvent('Hi'),
        c: toolCallEvent({ id: 'call_w', name: 'get_weather', arguments: '{}' }),
        f: finishEvent('tool_calls'),
      });
      const eventsSubs = ['  ^-----!  ', '  --^-----!'];
      const late = '         --^       ';
      const expectedFirst = '------(r|)';
      const expectedLate = ' --------(r|)';
      const whole = {
        text: 'Hi',
        reasoning: '',
        refusal: '',
        toolCalls: [{ id: 'call_w', name: 'get_weather', arguments: '{}' }],
        finishReason: 'tool_calls',
      };
      const answer = events.pipe(result());

      expectObservable(answer).toBe(expectedFirst, { r: whole });
      expectObservable(answer, late).toBe(expectedLate, { r: whole });
      expectSubscriptions(events.subscriptions).toBe(eventsSubs);
    });
  });

  it('rejects a choice that can match no event when it is built, naming itself', () => {
    expect(() => result({ choice: 1.5 })).toThrow(
      new RxllmError('invalid-config', 'result(): `choice` must be an integer ≥ 0 (the choice index for n > 1), got 1.5.'),
    );
  });
});
