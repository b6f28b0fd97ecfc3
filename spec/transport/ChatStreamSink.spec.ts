import { Observable } from 'rxjs';
import type { LlmEvent } from '../../src/core/events';
import type { RxllmError } from '../../src/core/errors';
import { ChatStreamSink } from '../../src/transport/ChatStreamSink';

const chunk = (content: string) => JSON.stringify({ choices: [{ index: 0, delta: { content }, finish_reason: null }] });
const finish = JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });

/** Feeds `messages` to a sink on a fresh subscriber; returns what the subscriber saw. */
function feed(messages: { data: string; event?: string }[], end: 'complete' | 'none' = 'none'): unknown[] {
  const seen: unknown[] = [];
  new Observable<LlmEvent>((subscriber) => {
    const sink = new ChatStreamSink(subscriber, { status: 200 });
    for (const message of messages) sink.next(message);
    if (end === 'complete') sink.complete();
  }).subscribe({
    next: (event) => seen.push(event),
    error: (error: RxllmError) => seen.push(['error', error.code, error.partialText]),
    complete: () => seen.push('complete'),
  });
  return seen;
}

describe('ChatStreamSink', () => {
  it('decodes each event as it arrives and completes at [DONE]', () => {
    expect(feed([{ data: chunk('Hel') }, { data: chunk('lo') }, { data: finish }, { data: '[DONE]' }])).toEqual([
      { type: 'text', choice: 0, text: 'Hel' },
      { type: 'text', choice: 0, text: 'lo' },
      { type: 'finish', choice: 0, reason: 'stop' },
      'complete',
    ]);
  });

  it('decodes nothing after the subscriber closed (events after [DONE] in the same read)', () => {
    expect(feed([{ data: finish }, { data: '[DONE]' }, { data: chunk('late') }, { data: 'not json' }])).toEqual([
      { type: 'finish', choice: 0, reason: 'stop' },
      'complete',
    ]);
  });

  it('is closed, and decodes nothing, once its subscriber is unsubscribed from outside, or when made on a closed one', () => {
    const seen: unknown[] = [];
    let sink!: ChatStreamSink;
    const subscription = new Observable<LlmEvent>((subscriber) => {
      sink = new ChatStreamSink(subscriber, { status: 200 });
    }).subscribe((event) => seen.push(event));
    sink.next({ data: chunk('Hel') });
    expect(sink.closed).toBe(false);
    subscription.unsubscribe();
    expect(sink.closed).toBe(true);
    sink.next({ data: chunk('lo') });
    sink.complete();
    expect(seen).toEqual([{ type: 'text', choice: 0, text: 'Hel' }]);

    let late!: ChatStreamSink;
    new Observable<LlmEvent>((subscriber) => {
      subscriber.complete();
      late = new ChatStreamSink(subscriber, { status: 200 });
    }).subscribe();
    expect(late.closed).toBe(true);
  });

  it('is closed once it ended the stream itself', () => {
    let sink!: ChatStreamSink;
    new Observable<LlmEvent>((subscriber) => {
      sink = new ChatStreamSink(subscriber, { status: 200 });
    }).subscribe({ error: () => undefined });
    sink.next({ data: finish });
    expect(sink.closed).toBe(false);
    sink.next({ data: '[DONE]' });
    expect(sink.closed).toBe(true);
  });

  it('errors with malformed-event for data that is not JSON, carrying the text so far', () => {
    expect(feed([{ data: chunk('Hel') }, { data: '{oops' }])).toEqual([{ type: 'text', choice: 0, text: 'Hel' }, ['error', 'malformed-event', 'Hel']]);
  });

  it('errors with stream-error for an error event, and with incomplete-stream when the messages end mid-answer', () => {
    expect(feed([{ event: 'error', data: '{"error":{"message":"overloaded"}}' }])).toEqual([['error', 'stream-error', undefined]]);
    expect(feed([{ data: chunk('Hel') }], 'complete')).toEqual([{ type: 'text', choice: 0, text: 'Hel' }, ['error', 'incomplete-stream', 'Hel']]);
  });
  it("tells its exchange the answer finished before completing the subscriber (whose teardowns see it), and never when it errors", () => {
    const flagAtTeardown = (messages: { data: string }[], end: 'complete' | 'none') => {
      const exchange = { finished: false };
      let seen: boolean | undefined;
      new Observable<LlmEvent>((subscriber) => {
        subscriber.add(() => (seen = exchange.finished));
        const sink = new ChatStreamSink(subscriber, { status: 200 }, exchange);
        for (const message of messages) sink.next(message);
        if (end === 'complete') sink.complete();
      }).subscribe({ error: () => undefined });
      return seen;
    };
    expect(flagAtTeardown([{ data: finish }, { data: '[DONE]' }], 'none')).toBe(true);
    expect(flagAtTeardown([{ data: finish }], 'complete')).toBe(true);
    expect(flagAtTeardown([{ data: chunk('Hel') }], 'complete')).toBe(false); // incomplete-stream
    expect(flagAtTeardown([{ data: '{oops' }], 'none')).toBe(false);
  });
});
