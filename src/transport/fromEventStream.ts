import type { EventSourceMessage as ParsedMessage } from 'eventsource-parser';
import { Observable } from 'rxjs';
import { readEventStream } from './readEventStream.js';

/** One Server-Sent Event: eventsource-parser's message, plus whether the body ended inside it. */
export interface EventSourceMessage extends ParsedMessage {
  /**
   * True for an event dispatched only because the body ended: no blank line followed it
   * (llama.cpp ends with `data: [DONE]` and none), or only a last bare CR that could still
   * have been the start of a CRLF. The data may be whole, or cut off mid-event.
   */
  unterminated?: true;
}

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
 * @example
 * ```ts
 * fromEventStream(response.body!).subscribe((message) => console.log(message.event, message.data));
 * ```
 */
export function fromEventStream(body: ReadableStream<Uint8Array>): Observable<EventSourceMessage> {
  return new Observable<EventSourceMessage>((subscriber) => readEventStream(body, subscriber));
}
