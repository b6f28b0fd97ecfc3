import { Observable } from 'rxjs';
import type { RequestContext } from '../core/context.js';
import type { LlmEvent } from '../core/events.js';
import type { RxllmError } from '../core/errors.js'; // for the docs
import { checkRequestToSend, type LlmRequest } from '../core/request.js';
import type { Transport } from '../core/transport.js';
import { ChatExchange } from './ChatExchange.js';
import { httpEndpoint, type HttpEndpoint, type HttpEndpointConfig } from './httpEndpoint.js';
import { startDirectExchange } from './httpExchange.js';
import { unreachable } from './httpError.js';
import { withFields } from '../internal/withFields.js';

/** Options for {@link sseTransport}: where to send (`baseURL`, with `/chat/completions` appended), credentials, headers, fetch. */
export interface SseTransportConfig extends HttpEndpointConfig {
  /**
   * Ask streaming responses to end with a usage chunk (`stream_options.include_usage`),
   * unless the request sets `stream_options` itself.
   * @defaultValue true
   */
  includeUsage?: boolean;
}

/**
 * A {@link Transport} over `fetch` and Server-Sent Events, for any
 * OpenAI-compatible endpoint (OpenAI, Azure, vLLM, Ollama, llama.cpp, LiteLLM,
 * OpenRouter, Groq, the rxllm simulator). Works in Node 18+ and browsers.
 *
 * Each subscription validates the request (an `invalid-request` error, nothing
 * sent; free for a request `withMiddleware` already validated), POSTs it, and emits the answer's {@link LlmEvent}s as they arrive.
 * Requests stream unless `stream: false` is set; a non-streaming answer becomes
 * the same events. Completes after the last `finish` event; errors with a typed
 * {@link RxllmError}. Cold: nothing is sent before subscribe. Unsubscribe aborts
 * the HTTP request; a finished answer's connection is kept for the next request.
 * The {@link RequestContext} beside a request is for the middleware above: none
 * of it is sent; its `onHeaders` is called when the response headers arrive.
 *
 * @example
 * ```ts
 * import { sseTransport, textSoFar } from 'rxllm';
 * const llm = sseTransport({ baseURL: 'http://127.0.0.1:8787/v1' });
 * llm({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] })
 *   .pipe(textSoFar())
 *   .subscribe((text) => render(text));
 * ```
 */
export function sseTransport(config: SseTransportConfig = {}): Transport {
  const endpoint = httpEndpoint('sseTransport', config, '/chat/completions', 'text/event-stream, application/json');
  const includeUsage = config.includeUsage ?? true;

  // One Observable per request whose subscribe validates, builds the body and starts the exchange
  // (what `defer(() => httpExchange(...))` did with two Observables, a second subscribe and three
  // closures per request). A throw here (invalid-request) errors the subscriber, as in defer.
  return (request: LlmRequest, context?: RequestContext) =>
    new Observable<LlmEvent>((subscriber) =>
      startDirectExchange(subscriber, new SseExchange(endpoint, JSON.stringify(wireBody(checkRequestToSend(request), includeUsage)), context)),
    );
}

/** One request of an sseTransport: what it sends with `fetch` (the answer is read as {@link ChatExchange} reads it). */
class SseExchange extends ChatExchange {
  constructor(
    private readonly endpoint: HttpEndpoint,
    private readonly body: string,
    context: RequestContext | undefined,
  ) {
    super(context);
  }

  send(signal: AbortSignal): Promise<Response> {
    const { url, fetch, headers } = this.endpoint;
    // Called unbound, as a browser's fetch must be (never as a method of the endpoint).
    return fetch(url, { method: 'POST', headers, body: this.body, signal });
  }

  unreachable(cause: unknown): unknown {
    return unreachable(this.endpoint.url, cause);
  }
}

/** The JSON body to send: streaming unless the request says otherwise, with usage asked for. */
export function wireBody(request: LlmRequest, includeUsage: boolean): LlmRequest {
  // A request that already says `stream: false` (a step's value()) is sent as it is: only read, never copied.
  if (request.stream === false) return request;
  if (!includeUsage || request.stream_options != null) return withFields(request, { stream: true });
  return withFields(request, { stream: true, stream_options: { include_usage: true } });
}
