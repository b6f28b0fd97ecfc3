import { createParser, type EventSourceMessage as ParsedMessage } from 'eventsource-parser';
import { Observable } from 'rxjs';

/** One Server-Sent Event: eventsource-parser's message, plus whether the body ended inside it. */
export interface EventSourceMessage extends ParsedMessage {
  /**
   * True for an event dispatched only because the body ended: no blank line followed it
   * (llama.cpp ends with `data: [DONE]` and none), or only a last bare CR that could still
   * have been the start of a CRLF. The data may be whole, or cut off mid-event.
   */
  unterminated?: true;
}

/** Options for {@link fromEventStream}. */
export interface FromEventStreamOptions {
  /** Called with each `retry:` field's value: the reconnection delay the server asks for, in milliseconds. */
  onRetry?: (retryMs: number) => void;
}

// How long an unsubscribed stream waits for its body's end before cancelling the reader. The end of a
// finished answer is normally already in the socket buffer; a server that holds the connection open
// after [DONE] costs this long, and a stream cut off by an early unsubscribe is cancelled after it.
const BODY_END_GRACE_MS = 20;

/**
 * Reads a `text/event-stream` body and emits its Server-Sent Events.
 *
 * - Emits one {@link EventSourceMessage} per event, parsed by eventsource-parser
 *   (any line ending, events split anywhere across reads, UTF-8 split across reads,
 *   a leading BOM).
 * - A last event with no blank line after it (llama.cpp's `[DONE]`) is still emitted,
 *   marked `unterminated`, so a reader can tell whole data from data cut off mid-event.
 * - llama.cpp's non-standard `error:` field is emitted as an `event: error` message,
 *   so the error it carries is not lost.
 * - Completes when the body ends; errors with the reader's own error when the
 *   connection fails mid-body.
 * - Cold: the body is read from subscribe on. Unsubscribe cancels the reader, which closes the
 *   connection, unless the body turns out to end at once (a subscriber that stops at `[DONE]`
 *   unsubscribes just before the body's end is read): reading that end lets `fetch` keep the
 *   connection for the next request, where a cancel would destroy it.
 *
 * - `options.onRetry` hears each `retry:` field (the reconnection delay the server asks for, in
 *   milliseconds); the field is not an event, so nothing is emitted for it.
 *
 * @example
 * ```ts
 * fromEventStream(response.body!).subscribe((message) => console.log(message.event, message.data));
 * ```
 */
export function fromEventStream(body: ReadableStream<Uint8Array>, options: FromEventStreamOptions = {}): Observable<EventSourceMessage> {
  return new Observable<EventSourceMessage>((subscriber) => {
    const reader = body.getReader();
    // TextDecoder removes the BOM and keeps multi-byte characters split across reads whole.
    const decoder = new TextDecoder();
    let atEnd = false;
    const parser = createParser({
      ...(options.onRetry ? { onRetry: options.onRetry } : {}),
      onEvent: (message) => subscriber.next(atEnd ? { ...message, unterminated: true } : message),
      onError: (error) => {
        if (error.type === 'unknown-field' && error.field === 'error') {
          subscriber.next({ event: 'error', data: error.value ?? '' });
        }
      },
    });

    let ended = false;
    const pump = async (): Promise<void> => {
      for (;;) {
        const { value, done } = await reader.read();
        if (subscriber.closed) {
          // Unsubscribed while this read was pending: more data means nobody wants the rest.
          if (done) ended = true;
          else reader.cancel().catch(() => undefined);
          return;
        }
        if (done) break;
        parser.feed(decoder.decode(value, { stream: true }));
      }
      const rest = decoder.decode();
      if (rest) parser.feed(rest);
      // eventsource-parser drops an event the body ends inside (as the SSE spec says), and
      // holds a trailing CR until it knows whether an LF follows. Ending the line and the event
      // here dispatches what the server did send; the flag tells the reader it was unterminated.
      atEnd = true;
      parser.feed('\n\n');
      subscriber.complete();
    };
    pump().then(
      () => {
        ended = true;
      },
      (error: unknown) => {
        ended = true;
        // After teardown the failure is the cancel or abort itself, and nobody is listening: an
        // error sent now would reach RxJS's `onStoppedNotification` as a leak.
        if (!subscriber.closed) subscriber.error(error);
      },
    );

    return () => {
      if (ended) return;
      // The pump's next read is already under way: if the body ends right away it finishes cleanly
      // (the connection stays reusable); otherwise it is cancelled here once the grace has passed.
      const grace = setTimeout(() => {
        if (!ended) reader.cancel().catch(() => undefined);
      }, BODY_END_GRACE_MS);
      (grace as { unref?: () => void }).unref?.();
    };
  });
}
