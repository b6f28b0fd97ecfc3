import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { Observable } from 'rxjs';

export type { EventSourceMessage };

/**
 * Reads a `text/event-stream` body and emits its Server-Sent Events.
 *
 * - Emits one {@link EventSourceMessage} per event, parsed by eventsource-parser
 *   (any line ending, events split anywhere across reads, UTF-8 split across reads,
 *   a leading BOM).
 * - A last event with no blank line after it (llama.cpp's `[DONE]`) is still emitted.
 * - llama.cpp's non-standard `error:` field is emitted as an `event: error` message,
 *   so the error it carries is not lost.
 * - Completes when the body ends; errors with the reader's own error when the
 *   connection fails mid-body.
 * - Cold: the body is read from subscribe on. Unsubscribe cancels the reader,
 *   which closes the connection.
 */
export function fromEventStream(body: ReadableStream<Uint8Array>): Observable<EventSourceMessage> {
  return new Observable<EventSourceMessage>((subscriber) => {
    const reader = body.getReader();
    // TextDecoder removes the BOM and keeps multi-byte characters split across reads whole.
    const decoder = new TextDecoder();
    const parser = createParser({
      onEvent: (message) => subscriber.next(message),
      onError: (error) => {
        if (error.type === 'unknown-field' && error.field === 'error') {
          subscriber.next({ event: 'error', data: error.value ?? '' });
        }
      },
    });

    const pump = async (): Promise<void> => {
      for (;;) {
        const { value, done } = await reader.read();
        if (subscriber.closed) return;
        if (done) break;
        parser.feed(decoder.decode(value, { stream: true }));
      }
      const rest = decoder.decode();
      if (rest) parser.feed(rest);
      parser.reset({ consume: true });
      subscriber.complete();
    };
    pump().catch((error: unknown) => subscriber.error(error));

    return () => {
      reader.cancel().catch(() => undefined);
    };
  });
}
