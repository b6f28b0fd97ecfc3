import { Observable, type OperatorFunction } from 'rxjs';
import type { LlmEvent } from '../core/events.js';
import type { ResponseContext } from './ChatCompletionDecoder.js';
import { ChatStreamSink } from './ChatStreamSink.js';
import type { EventSourceMessage } from './fromEventStream.js';

/**
 * Turns the Server-Sent Events of a chat-completions stream into {@link LlmEvent}s.
 *
 * - Emits the events of each chunk in order, and one `usage` event at the end when the
 *   server reported usage (the latest counts, however often it repeated them); stops
 *   reading at `[DONE]`.
 * - Completes at `[DONE]`, or when the messages end with every choice finished.
 * - Errors with `stream-error` (an error object, `event: error`, finish_reason
 *   `"error"`), `malformed-event` (data that is not JSON), `incomplete-stream`
 *   (cut off, even mid-event, or nothing produced) or `connection-lost` (the source failed).
 *   Every such error carries `partialText` and `tokensEmitted`.
 * - Unsubscribe (or `[DONE]`) unsubscribes from the messages, which cancels the body.
 *
 * ```text
 * messages: -h-l-f-u-D-h-|        (D = [DONE])
 * events:   -h-l-f---(u|)         (usage at the end; nothing read after [DONE])
 * ```
 *
 * @example
 * ```ts
 * fromEventStream(response.body!).pipe(decodeChatStream({ status: response.status })).subscribe(render);
 * ```
 */
export function decodeChatStream(context: ResponseContext = {}): OperatorFunction<EventSourceMessage, LlmEvent> {
  return (messages) => new Observable<LlmEvent>((subscriber) => messages.subscribe(new ChatStreamSink(subscriber, context)));
}
