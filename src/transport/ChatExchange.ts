import type { Subscriber, TeardownLogic } from 'rxjs';
import type { RequestContext } from '../core/context.js';
import type { LlmEvent } from '../core/events.js';
import { readResponseInto } from './eventsFromResponse.js';
import type { DirectExchange, ExchangeEnd } from './httpExchange.js';
import { readableHeaders } from './httpError.js';

// Internal: not exported from any entry point.

/**
 * One chat-completions request of a transport (sseTransport over `fetch`, openaiTransport over the
 * SDK), as the exchange `startDirectExchange` runs. A subclass says how the request is sent and
 * what a failed send becomes; the answer is read here, one way for both transports, so they emit
 * identical events and errors.
 */
export abstract class ChatExchange implements DirectExchange<LlmEvent> {
  constructor(private readonly context: RequestContext | undefined) {}

  abstract send(signal: AbortSignal): Promise<Response>;

  abstract unreachable(cause: unknown): unknown;

  /**
   * Tells the context's `onHeaders` that the headers arrived, then reads the answer straight into
   * the caller's subscriber: no relay between the decoder and it, per token. A throwing `onHeaders`
   * errors the stream with its error (startDirectExchange catches it) and nothing is read.
   */
  readInto(response: Response, subscriber: Subscriber<LlmEvent>, end: ExchangeEnd): TeardownLogic {
    this.context?.onHeaders?.(response.status, readableHeaders(response.headers));
    return readResponseInto(response, subscriber, end);
  }
}
