import { config, lastValueFrom, take, toArray } from 'rxjs';
import { fromEventStream, type EventSourceMessage } from '../../src/transport/fromEventStream';
import { chunkedResponse } from '../helpers/chunkedFetch';
import { waitFor } from '../helpers/waitFor';

const bytes = (text: string) => new TextEncoder().encode(text);
const bodyOf = (...chunks: string[]) => chunkedResponse(chunks.map(bytes)).body!;
const messages = (...chunks: string[]) => lastValueFrom(fromEventStream(bodyOf(...chunks)).pipe(toArray()));

describe('fromEventStream', () => {
  it('emits each event with its type and id, skipping comments', async () => {
    expect(await messages(': keep-alive\n\nid: 7\nevent: delta\ndata: {"a":1}\n\n', 'data: two\ndata: lines\n\n')).toEqual<EventSourceMessage[]>([
      { id: '7', event: 'delta', data: '{"a":1}' },
      { id: undefined, event: undefined, data: 'two\nlines' },
    ]);
  });

  it('emits llama.cpp’s non-standard `error:` field as an error event', async () => {
    expect(await messages('error: {"code":500,"message":"boom"}\n\n')).toEqual([{ event: 'error', data: '{"code":500,"message":"boom"}' }]);
  });

  it('emits an event the body ends inside, marked unterminated', async () => {
    expect(await messages('data: whole\n\n', 'data: [DONE]')).toEqual([
      { id: undefined, event: undefined, data: 'whole' },
      { id: undefined, event: undefined, data: '[DONE]', unterminated: true },
    ]);
    expect(await messages('data: [DONE]\n')).toEqual([{ id: undefined, event: undefined, data: '[DONE]', unterminated: true }]);
    expect(await messages('data: [DONE]\r\r')).toEqual([{ id: undefined, event: undefined, data: '[DONE]', unterminated: true }]);
  });

  it('emits nothing more at the end of a body that ends on a blank line', async () => {
    expect(await messages('data: a\n\n')).toEqual([{ id: undefined, event: undefined, data: 'a' }]);
    expect(await messages('')).toEqual([]);
  });

  it('errors with the reader’s error when the body fails', async () => {
    const failing = chunkedResponse([bytes('data: a\n\n')], { failWith: new TypeError('terminated') }).body!;
    const seen: EventSourceMessage[] = [];
    const error = await new Promise((resolve) => fromEventStream(failing).subscribe({ next: (m) => seen.push(m), error: resolve }));
    expect(error).toEqual(new TypeError('terminated'));
    expect(seen).toEqual([{ id: undefined, event: undefined, data: 'a' }]);
  });

  it('sends no error after unsubscribe when the body then fails (an aborted fetch): onStoppedNotification sees none', async () => {
    const stopped: unknown[] = [];
    const previous = config.onStoppedNotification;
    config.onStoppedNotification = (notification) => stopped.push(notification);
    try {
      let body!: ReadableStreamDefaultController<Uint8Array>;
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          body = controller;
          controller.enqueue(bytes('data: 1\n\n'));
        },
      });

      const first = await lastValueFrom(fromEventStream(stream).pipe(take(1)));
      body.error(new DOMException('This operation was aborted', 'AbortError')); // the read under way rejects
      // A quiet period before a negative check: RxJS reports a stopped notification on a 0 ms timer, which fires before this one.
      await new Promise((resolve) => setTimeout(resolve, 20));

      expect(first.data).toBe('1');
      expect(stopped).toEqual([]);
    } finally {
      config.onStoppedNotification = previous;
    }
  });

  it('is cold, and unsubscribing cancels the body', async () => {
    let pulls = 0;
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          pulls++;
          controller.enqueue(bytes(`data: ${pulls}\n\n`));
        },
        cancel() {
          cancelled = true;
        },
      },
      { highWaterMark: 0 },
    );
    const events$ = fromEventStream(body);
    await Promise.resolve();
    expect(pulls).toBe(0);

    const first = await lastValueFrom(events$.pipe(take(1)));

    expect(first.data).toBe('1');
    // The read already under way shows the body goes on, so the reader is cancelled (a tick later).
    await waitFor(() => cancelled, 'the body cancelled after the read under way showed it goes on');
    expect(cancelled).toBe(true);
  });

  it('does not cancel a body that ends right after the last wanted event, so the connection can be reused', async () => {
    let pulls = 0;
    let cancelled = false;
    // The end is only signalled when read for: at unsubscribe time the body is still open.
    const body = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          pulls++;
          if (pulls === 1) controller.enqueue(bytes('data: 1\n\ndata: [DONE]\n\n'));
          else controller.close();
        },
        cancel() {
          cancelled = true;
        },
      },
      { highWaterMark: 0 },
    );

    const first = await lastValueFrom(fromEventStream(body).pipe(take(1)));
    await waitFor(() => pulls === 2, 'the end of the body read');
    // A quiet period before a negative check: a wrong cancel would come on the 20 ms grace timer, which fires before this one.
    await new Promise((resolve) => setTimeout(resolve, 40));

    expect(first.data).toBe('1');
    expect(pulls).toBe(2); // the end was read
    expect(cancelled).toBe(false);
  });

  it('cancels a body that neither goes on nor ends, once the grace has passed', async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes('data: 1\n\n')); // then nothing: a server holding the connection open
      },
      cancel() {
        cancelled = true;
      },
    });

    await lastValueFrom(fromEventStream(body).pipe(take(1)));
    expect(cancelled).toBe(false);
    await waitFor(() => cancelled, 'the body cancelled once the grace passed');
    expect(cancelled).toBe(true);
  });
});
