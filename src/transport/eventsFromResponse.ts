import { defer, Observable, type Subscriber, type TeardownLogic } from 'rxjs';
import type { LlmEvent } from '../core/events.js';
import { RxllmError } from '../core/errors.js';
import { ChatCompletionDecoder, type ResponseContext } from './ChatCompletionDecoder.js';
import { ChatStreamSink } from './ChatStreamSink.js';
import type { ExchangeEnd } from './httpExchange.js';
import { readEventStream } from './readEventStream.js';
import { failedResponse, responseDetails, responseText } from './httpError.js';

/**
 * The events of one chat-completions HTTP response, whatever its shape:
 * an error status becomes a typed error; a `text/event-stream` body is decoded
 * as it arrives; a JSON body (asked for, or sent where a stream was asked)
 * becomes the same events, and an error object in it is an error even with
 * status 200. Cold: the body is read on subscribe; unsubscribe cancels it.
 *
 * @example
 * ```ts
 * const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(request) });
 * eventsFromResponse(response).pipe(textSoFar()).subscribe(render);
 * ```
 */
export function eventsFromResponse(response: Response): Observable<LlmEvent> {
  if (!response.ok) return failedResponse(response);
  if (!response.body) {
    return defer(() => {
      throw new RxllmError('incomplete-stream', 'The response has no body: the server produced no answer.', responseDetails(response));
    });
  }
  const body = response.body;
  return new Observable<LlmEvent>((subscriber) => readBody(response, body, subscriber));
}

/**
 * Internal: {@link eventsFromResponse}'s events of `response`, delivered straight into `subscriber`
 * (the caller's own, with no Observable between), with `exchange.finished` set just before the
 * answer completes it. Returns the reading's teardown. For the readers of `startDirectExchange`.
 */
export function readResponseInto(response: Response, subscriber: Subscriber<LlmEvent>, exchange: ExchangeEnd): TeardownLogic {
  const body = response.ok ? response.body : null;
  // An error status or no body: an error, which aborts the request as any error does.
  if (!body) {
    eventsFromResponse(response).subscribe(subscriber);
    return undefined;
  }
  return readBody(response, body, subscriber, exchange);
}

/** Reads a successful response's body into `subscriber`: an event stream as it arrives, or one JSON body. */
function readBody(response: Response, body: ReadableStream<Uint8Array>, subscriber: Subscriber<LlmEvent>, exchange?: ExchangeEnd): TeardownLogic {
  const contentType = response.headers.get('content-type') ?? '';
  if (contentType.includes('text/event-stream')) {
    // fromEventStream(body).pipe(decodeChatStream(context)), fused: the parser hands each event to
    // the decoder directly, so a token costs one subscriber call instead of a chain of them.
    // The details (status, request id, every readable header) are read only if the stream errors:
    // made up front they stayed alive as long as the stream, a copy of the headers per live stream
    // (plus the sorted copy undici caches on the Headers once they are iterated).
    const details = (): ResponseContext => responseDetails(response);
    return readEventStream(body, new ChatStreamSink(subscriber, details, exchange));
  }
  // One subscriber and one promise callback (not defer + from + switchMap + an inner Observable):
  // a non-streaming answer is one body, and at low latency these layers cost more than its decoding.
  // An unsubscribed caller gets nothing: the exchange above aborts the request, which ends the read.
  responseText(response).then(
    (text) => {
      if (!subscriber.closed) decodeCompletion(text, contentType, response, subscriber, exchange);
    },
    (error: unknown) => subscriber.error(error),
  );
  return undefined;
}

/** Decodes a whole JSON body into `subscriber`'s events, then completes it (or errors it). */
function decodeCompletion(text: string, contentType: string, response: Response, subscriber: Subscriber<LlmEvent>, exchange?: ExchangeEnd): void {
  // The headers are read only for an error's details: most answers never need them.
  const decoder = new ChatCompletionDecoder(subscriber, () => responseDetails(response));
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (cause) {
    subscriber.error(
      decoder.error('malformed-event', `Expected a JSON or event-stream body, got ${contentType || 'no content-type'}: ${text.slice(0, 200)}`, {
        cause,
        raw: text.slice(0, 2000),
      }),
    );
    return;
  }
  try {
    decoder.completion(payload);
    if (exchange) exchange.finished = true;
    subscriber.complete();
  } catch (error) {
    subscriber.error(error);
  }
}
