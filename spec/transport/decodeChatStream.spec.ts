import { from } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { RxllmError } from '../../src/core/errors';
import type { LlmEvent } from '../../src/core/events';
import { decodeChatStream } from '../../src/transport/decodeChatStream';
import type { EventSourceMessage } from '../../src/transport/fromEventStream';

const chunk = (delta: object, finishReason: string | null = null): EventSourceMessage => ({
  data: JSON.stringify({ choices: [{ index: 0, delta, finish_reason: finishReason }] }),
});
const done: EventSourceMessage = { data: '[DONE]' };

const messages = {
  h: chunk({ content: 'Hel' }),
  l: chunk({ content: 'lo' }),
  f: chunk({}, 'stop'),
  u: { data: JSON.stringify({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } }) },
  d: done,
  x: { data: 'not json' },
  e: { data: JSON.stringify({ error: { message: 'overloaded', type: 'server_error', code: null } }) },
};
const events: Record<string, LlmEvent> = {
  h: { type: 'text', choice: 0, text: 'Hel' },
  l: { type: 'text', choice: 0, text: 'lo' },
  f: { type: 'finish', choice: 0, reason: 'stop' },
  u: { type: 'usage', choice: 0, usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } },
};

// Errors compare by code and the fields that matter, not by stack.
function createScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => {
    const plain = (frames: unknown) =>
      JSON.parse(JSON.stringify(frames, (_key, value: unknown) => (value instanceof RxllmError ? value.toJSON() : value)));
    expect(plain(actual)).toEqual(plain(expected));
  });
}

describe('decodeChatStream', () => {
  let scheduler: TestScheduler;
  beforeEach(() => {
    scheduler = createScheduler();
  });

  it('emits the events of each chunk, usage once at the end, and stops reading at [DONE]', () => {
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('  -h-l-f-u-d-h-|', messages);
      const sourceSubs = '   ^--------!    ';
      const expected = '     -h-l-f---(u|)';

      expectObservable(source.pipe(decodeChatStream())).toBe(expected, events);
      expectSubscriptions(source.subscriptions).toBe(sourceSubs);
    });
  });

  it('completes when the source ends with every choice finished, even without [DONE]', () => {
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('  -h-f-|', messages);
      const sourceSubs = '   ^----!';
      const expected = '     -h-f-|';

      expectObservable(source.pipe(decodeChatStream())).toBe(expected, events);
      expectSubscriptions(source.subscriptions).toBe(sourceSubs);
    });
  });

  it('errors with stream-error at an error object and stops reading', () => {
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('  -h-e-l-|', messages);
      const sourceSubs = '   ^--!    ';
      const expected = '     -h-#    ';

      const error = new RxllmError('stream-error', 'The provider reported an error mid-response: overloaded', {
        status: 200,
        partialText: 'Hel',
        tokensEmitted: true,
        providerCode: 'server_error',
        providerType: 'server_error',
        raw: '{"message":"overloaded","type":"server_error","code":null}',
      });
      expectObservable(source.pipe(decodeChatStream({ status: 200 }))).toBe(expected, events, error);
      expectSubscriptions(source.subscriptions).toBe(sourceSubs);
    });
  });

  it('errors with malformed-event at data that is not JSON', () => {
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('  -h-x-|', messages);
      const sourceSubs = '   ^--!  ';
      const expected = '     -h-#  ';

      const error = new RxllmError('malformed-event', 'The server sent an event whose data is not JSON: not json', {
        partialText: 'Hel',
        tokensEmitted: true,
        raw: 'not json',
      });
      expectObservable(source.pipe(decodeChatStream())).toBe(expected, events, error);
      expectSubscriptions(source.subscriptions).toBe(sourceSubs);
    });
  });

  it('errors with stream-error at an `event: error` message, JSON or not', () => {
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('  -h-e-|', { ...messages, e: { event: 'error', data: 'upstream overloaded' } });
      const sourceSubs = '   ^--!  ';
      const expected = '     -h-#  ';

      const error = new RxllmError('stream-error', 'The provider reported an error mid-response: upstream overloaded', {
        partialText: 'Hel',
        tokensEmitted: true,
        raw: '{"message":"upstream overloaded"}',
      });
      expectObservable(source.pipe(decodeChatStream())).toBe(expected, events, error);
      expectSubscriptions(source.subscriptions).toBe(sourceSubs);
    });
  });

  it('turns a source error into connection-lost with what was streamed so far', () => {
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('  -h-l-#', messages, new TypeError('terminated'));
      const sourceSubs = '   ^----!';
      const expected = '     -h-l-#';

      const error = new RxllmError('connection-lost', 'The connection was lost mid-answer: terminated. Retry the request.', {
        requestId: 'req_1',
        partialText: 'Hello',
        tokensEmitted: true,
      });
      expectObservable(source.pipe(decodeChatStream({ requestId: 'req_1' }))).toBe(expected, events, error);
      expectSubscriptions(source.subscriptions).toBe(sourceSubs);
    });
  });

  it('unsubscribing unsubscribes from the source', () => {
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('  -h-l-f-d|', messages);
      const sourceSubs = '   ^--!     ';
      const unsubscribe = '  ^--!     ';
      const expected = '     -h--     ';

      expectObservable(source.pipe(decodeChatStream()), unsubscribe).toBe(expected, events);
      expectSubscriptions(source.subscriptions).toBe(sourceSubs);
    });
  });
});

describe('decodeChatStream with several choices', () => {
  const of = (index: number, delta: object, finishReason: string | null = null): EventSourceMessage => ({
    data: JSON.stringify({ choices: [{ index, delta, finish_reason: finishReason }] }),
  });
  const run = (source: EventSourceMessage[]) => {
    const seen: LlmEvent[] = [];
    let failure: unknown;
    let completed = false;
    from(source)
      .pipe(decodeChatStream())
      .subscribe({ next: (event) => seen.push(event), error: (error: unknown) => (failure = error), complete: () => (completed = true) });
    return { seen, failure, completed };
  };

  it('names, in order of arrival, the choices that never finished when the messages end without [DONE]', () => {
    const { seen, failure } = run([of(2, { content: 'x' }), of(0, { content: 'y' }, 'stop'), of(1, { content: 'z' })]);
    expect(seen).toEqual([
      { type: 'text', choice: 2, text: 'x' },
      { type: 'text', choice: 0, text: 'y' },
      { type: 'finish', choice: 0, reason: 'stop' },
      { type: 'text', choice: 1, text: 'z' },
    ]);
    expect(failure).toMatchObject({
      code: 'incomplete-stream',
      message: 'The stream ended without [DONE] while choice 2, 1 had no finish_reason: the answer is cut off. Retry the request.',
      partialText: 'y',
    });
  });

  it('completes when the messages end with every choice finished, choice 0 first or not', () => {
    expect(run([of(1, { content: 'p' }, 'stop'), of(0, { content: 'q' }, 'length')])).toEqual({
      seen: [
        { type: 'text', choice: 1, text: 'p' },
        { type: 'finish', choice: 1, reason: 'stop' },
        { type: 'text', choice: 0, text: 'q' },
        { type: 'finish', choice: 0, reason: 'length' },
      ],
      failure: undefined,
      completed: true,
    });
    expect(run([of(0, { content: 'q' }, 'stop'), of(1, { content: 'p' })]).failure).toMatchObject({
      message: expect.stringContaining('while choice 1 had no finish_reason'),
    });
  });
});
