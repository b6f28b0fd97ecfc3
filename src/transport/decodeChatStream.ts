import { Observable, type OperatorFunction } from 'rxjs';
import type { LlmEvent } from '../core/events.js';
import { isRxllmError } from '../core/errors.js';
import { ChatCompletionDecoder, type ResponseContext } from './ChatCompletionDecoder.js';
import type { EventSourceMessage } from './fromEventStream.js';
import { describeCause } from './httpError.js';

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
  return (messages) =>
    new Observable<LlmEvent>((subscriber) => {
      const decoder = new ChatCompletionDecoder((event) => subscriber.next(event), context);
      const subscription = messages.subscribe({
        next: (message) => {
          try {
            if (message.data === '[DONE]') {
              const incomplete = decoder.end(true);
              if (incomplete) subscriber.error(incomplete);
              else subscriber.complete();
              return;
            }
            let payload: unknown;
            try {
              payload = JSON.parse(message.data);
            } catch (cause) {
              if (message.event === 'error') throw decoder.providerError({ message: message.data });
              if (message.unterminated) {
                throw decoder.error('incomplete-stream', 'The stream ended in the middle of an event: the answer is cut off. Retry the request.', {
                  cause,
                  raw: message.data,
                });
              }
              throw decoder.error('malformed-event', `The server sent an event whose data is not JSON: ${message.data.slice(0, 200)}`, {
                cause,
                raw: message.data,
              });
            }
            if (message.event === 'error') {
              const body = typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : {};
              const inner = body['error'];
              throw decoder.providerError(typeof inner === 'object' && inner !== null ? (inner as Record<string, unknown>) : body);
            }
            decoder.chunk(payload);
          } catch (error) {
            subscriber.error(error);
          }
        },
        error: (error: unknown) => {
          subscriber.error(
            isRxllmError(error)
              ? error
              : decoder.error('connection-lost', `The connection was lost mid-answer: ${describeCause(error)}. Retry the request.`, {
                  cause: error,
                }),
          );
        },
        complete: () => {
          const incomplete = decoder.end(false);
          if (incomplete) subscriber.error(incomplete);
          else subscriber.complete();
        },
      });
      return subscription;
    });
}
