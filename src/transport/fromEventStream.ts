import { Observable } from 'rxjs';
import { readEventStream, type EventSourceMessage } from './readEventStream.js';

export type { EventSourceMessage } from './readEventStream.js';

/** Options for {@link fromEventStream}. */
export interface FromEventStreamOptions {
  /** Called with each `retry:` field's value: the reconnection delay the server asks for, in milliseconds. */
  onRetry?: (retryMs: number) => void;
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
 * - `options.onRetry` hears each `retry:` field (the reconnection delay the server asks for, in
 *   milliseconds); the field is not an event, so nothing is emitted for it.
 *
 * @example
 * ```ts
 * fromEventStream(response.body!).subscribe((message) => console.log(message.event, message.data));
 * ```
 */
export function fromEventStream(body: ReadableStream<Uint8Array>, options: FromEventStreamOptions = {}): Observable<EventSourceMessage> {
  return new Observable<EventSourceMessage>((subscriber) => readEventStream(body, subscriber, options.onRetry));
}
