import OpenAI, { type ClientOptions } from 'openai';
import { Observable } from 'rxjs';
import type { RequestContext } from '../core/context.js';
import { RxllmError } from '../core/errors.js';
import type { LlmEvent } from '../core/events.js';
import { checkRequestToSend, type LlmRequest } from '../core/request.js';
import type { Transport } from '../core/transport.js';
import { ChatExchange } from '../transport/ChatExchange.js';
import { baseURLOf, fetchOf } from '../transport/httpEndpoint.js';
import { startDirectExchange } from '../transport/httpExchange.js';
import { describeCause, errorFromHttpResponse, unreachable } from '../transport/httpError.js';
import { wireBody } from '../transport/sse.js';

/** Options for {@link openaiTransport} when it builds its own client. */
export interface OpenAITransportConfig extends ClientOptions {
  /** See {@link rxllm!SseTransportConfig.includeUsage | SseTransportConfig.includeUsage}. @defaultValue true */
  includeUsage?: boolean;
}

/**
 * A {@link Transport} over the official `openai` SDK: the SDK builds and sends
 * the request (auth, base URL, Azure and other client options, its HTTP error
 * classes); rxllm reads the response body itself.
 *
 * Why not the SDK's own stream iterator: it ends silently on a truncated body,
 * on an error object without an `error` key (vLLM) and on `event: error`, and
 * an answer cut off without an error is the worst failure a pipeline can have.
 * Reading the body with the same decoder as {@link rxllm!sseTransport | sseTransport} reports every
 * one of them, and makes the two transports emit identical events.
 *
 * The SDK's own retries are switched off (`maxRetries: 0`): retries belong to
 * rxllm's `retry()`, where they can stop once tokens were emitted.
 *
 * Emits the answer's {@link rxllm!LlmEvent | LlmEvent}s; completes after the last `finish`;
 * errors with a typed {@link rxllm!RxllmError | RxllmError}, the same errors as `sseTransport`
 * (an invalid request fails with `invalid-request` before the SDK sees it).
 * Cold: nothing is sent before subscribe. Unsubscribe aborts the HTTP request.
 * The request context is for the middleware above: none of it is sent; its
 * `onHeaders` is called when the response headers arrive (an error status the SDK
 * turned into an exception is reported only by the error, which carries the headers).
 *
 * @param clientOrConfig an `OpenAI` client (an `AzureOpenAI` works too), or options to build one.
 * @throws {@link rxllm!RxllmError | RxllmError} `invalid-config` when options cannot make a client: a `baseURL` that is
 * not http(s), a `fetch` that is not a function, no API key (the SDK's own message says where it looked).
 *
 * @example
 * ```ts
 * import OpenAI from 'openai';
 * import { openaiTransport } from 'rxllm/openai';
 * const llm = openaiTransport(new OpenAI());
 * ```
 */
export function openaiTransport(clientOrConfig: OpenAI | OpenAITransportConfig = {}): Transport {
  const client = isOpenAIClient(clientOrConfig) ? clientOrConfig : clientFrom(clientOrConfig);
  const includeUsage = isOpenAIClient(clientOrConfig) ? true : (clientOrConfig.includeUsage ?? true);
  const url = `${client.baseURL.replace(/\/+$/, '')}/chat/completions`;

  // As sseTransport: one Observable per request whose subscribe validates, builds the body and
  // starts the exchange, and the decoder delivers straight to the caller's subscriber (no defer
  // around a second Observable, no closures, no relay per token). A throw here (invalid-request)
  // errors the subscriber before the SDK sees the request.
  return (request: LlmRequest, context?: RequestContext) =>
    new Observable<LlmEvent>((subscriber) =>
      startDirectExchange(subscriber, new OpenAIExchange(client, wireBody(checkRequestToSend(request), includeUsage), url, context)),
    );
}

/** One request of an openaiTransport: sent by the SDK (the answer is read as {@link ChatExchange} reads it). */
class OpenAIExchange extends ChatExchange {
  constructor(
    private readonly client: OpenAI,
    private readonly body: LlmRequest,
    private readonly url: string,
    context: RequestContext | undefined,
  ) {
    super(context);
  }

  send(signal: AbortSignal): Promise<Response> {
    const body = this.body as unknown as OpenAI.ChatCompletionCreateParams;
    return this.client.chat.completions.create(body, { signal, maxRetries: 0 }).asResponse();
  }

  unreachable(cause: unknown): unknown {
    return fromSdkError(cause, this.url);
  }
}

/** A client from options, checked as `sseTransport` checks its own, with the SDK's retries off. */
function clientFrom(config: OpenAITransportConfig): OpenAI {
  const { includeUsage: _includeUsage, ...options } = config;
  if (options.baseURL != null) baseURLOf('openaiTransport', options.baseURL);
  if (options.fetch !== undefined) fetchOf('openaiTransport', options.fetch as typeof fetch);
  try {
    return new OpenAI({ ...options, maxRetries: 0 });
  } catch (cause) {
    throw new RxllmError('invalid-config', `openaiTransport could not make an OpenAI client: ${describeCause(cause)}`, { cause });
  }
}

// Duck-typed, so a client from another copy of the SDK is recognised too.
function isOpenAIClient(value: OpenAI | OpenAITransportConfig): value is OpenAI {
  return typeof (value as { chat?: { completions?: { create?: unknown } } }).chat?.completions?.create === 'function';
}

/** Maps an SDK error to rxllm's error family, keeping the SDK error as `cause`. */
function fromSdkError(error: unknown, url: string): RxllmError {
  const sdkError = error as { status?: unknown; headers?: unknown; error?: unknown; message?: unknown };
  if (typeof sdkError.status === 'number') {
    // Duck-typed: a custom fetch may bring its own Headers class.
    const candidate = sdkError.headers as Headers | undefined;
    const headers = typeof candidate?.get === 'function' && typeof candidate.forEach === 'function' ? candidate : new Headers();
    return errorFromHttpResponse(sdkError.status, headers, sdkErrorBody(sdkError.status, sdkError)).with({ cause: error });
  }
  return unreachable(url, error);
}

/**
 * The error body as the server sent it, as far as the SDK kept it: the `error` member of a
 * JSON body, or the text of any other body behind its own "<status> " prefix. (A JSON body
 * without an `error` member, like vLLM's, leaves the SDK nothing but the status.)
 */
function sdkErrorBody(status: number, sdkError: { error?: unknown; message?: unknown }): string {
  if (sdkError.error !== undefined && sdkError.error !== null) return JSON.stringify({ error: sdkError.error });
  const message = typeof sdkError.message === 'string' ? sdkError.message : '';
  if (message === `${status} status code (no body)`) return '';
  return message.startsWith(`${status} `) ? message.slice(`${status} `.length) : message;
}
