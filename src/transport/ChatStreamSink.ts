import type { Subscriber } from 'rxjs';
import type { LlmEvent } from '../core/events.js';
import { isRxllmError } from '../core/errors.js';
import { ChatCompletionDecoder, type ResponseContext, type ResponseDetailsOf } from './ChatCompletionDecoder.js';
import { describeCause } from './httpError.js';
import type { ExchangeEnd } from './httpExchange.js';
import type { EventSourceMessage, EventStreamSink } from './readEventStream.js';

// Internal: not exported from any entry point.

/**
 * The Server-Sent Events of a chat-completions stream, decoded into {@link LlmEvent}s on a
 * subscriber as each one arrives: `[DONE]` completes it, an error event or malformed data errors
 * it, the end of the messages says whether the answer was whole. What `decodeChatStream` does, as
 * an {@link EventStreamSink}, so the body reader can call it directly: one call per event from the
 * parser to the subscriber, instead of a second Observable (and its subscriber chain) per token.
 * Once the subscriber is closed, nothing more is decoded.
 */
export class ChatStreamSink implements EventStreamSink {
  private readonly decoder: ChatCompletionDecoder;
  /**
   * True once the subscriber is closed (the answer ended, failed, or was unsubscribed). A field,
   * not a getter over `subscriber.closed`: the reader asks before every event, and after a full GC
   * a getter is one more function V8 compiles again per answer. The subscriber sets it through
   * {@link unsubscribe}, run as one of its teardowns.
   */
  closed = false;

  /**
   * @param exchange the HTTP exchange the events come from, when the subscriber is the caller's
   *   own (no relay between): told the answer finished just before the subscriber completes, so
   *   the exchange does not abort the request its completion tears down.
   */
  constructor(
    private readonly subscriber: Subscriber<LlmEvent>,
    context: ResponseContext | ResponseDetailsOf,
    private readonly exchange?: ExchangeEnd,
  ) {
    this.decoder = new ChatCompletionDecoder(subscriber, context);
    // No closure: RxJS calls `unsubscribe()` on a teardown object (at once if already closed).
    subscriber.add(this);
  }

  /** A teardown of the subscriber: it closed, so nothing more is decoded. Not for callers. */
  unsubscribe(): void {
    this.closed = true;
  }

  next(message: EventSourceMessage): void {
    if (this.closed) return;
    const data = message.data;
    if (data === '[DONE]') {
      this.end(true);
      return;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(data);
    } catch (cause) {
      this.subscriber.error(this.unreadable(message, cause));
      return;
    }
    try {
      if (message.event === 'error') throw this.decoder.providerError(errorBody(payload));
      this.decoder.chunk(payload);
    } catch (error) {
      this.subscriber.error(error);
    }
  }

  error(error: unknown): void {
    if (this.closed) return;
    this.subscriber.error(
      isRxllmError(error)
        ? error
        : this.decoder.error('connection-lost', `The connection was lost mid-answer: ${describeCause(error)}. Retry the request.`, {
            cause: error,
          }),
    );
  }

  complete(): void {
    if (!this.closed) this.end(false);
  }

  private end(sawDone: boolean): void {
    let incomplete: unknown;
    try {
      incomplete = this.decoder.end(sawDone);
    } catch (error) {
      incomplete = error;
    }
    if (incomplete) {
      this.subscriber.error(incomplete);
      return;
    }
    if (this.exchange) this.exchange.finished = true;
    this.subscriber.complete();
  }

  /** The error for data that is not JSON: an error event's text, a body cut off mid-event, or garbage. */
  private unreadable(message: EventSourceMessage, cause: unknown): unknown {
    if (message.event === 'error') return this.decoder.providerError({ message: message.data });
    if (message.unterminated) {
      return this.decoder.error('incomplete-stream', 'The stream ended in the middle of an event: the answer is cut off. Retry the request.', {
        cause,
        raw: message.data,
      });
    }
    return this.decoder.error('malformed-event', `The server sent an event whose data is not JSON: ${message.data.slice(0, 200)}`, {
      cause,
      raw: message.data,
    });
  }
}

/** The error object of an `event: error` message: its `error` field, or the whole payload. */
function errorBody(payload: unknown): Record<string, unknown> {
  const body = typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : {};
  const inner = body['error'];
  return typeof inner === 'object' && inner !== null ? (inner as Record<string, unknown>) : body;
}
