import { defer } from 'rxjs';
import { RxllmError } from '../core/errors.js';
import { parseRequest, type LlmRequest } from '../core/request.js';
import type { Transport } from '../core/transport.js';
import { requestEvents } from './requestEvents.js';

/** Options for {@link sseTransport}. */
export interface SseTransportConfig {
  /**
   * The API root, up to and including the version (`https://api.openai.com/v1`,
   * `http://127.0.0.1:11434/v1`). `/chat/completions` is appended.
   * @defaultValue `"https://api.openai.com/v1"`
   */
  baseURL?: string;
  /** Sent as `Authorization: Bearer <apiKey>`. Omit for local servers that need none. */
  apiKey?: string;
  /** Extra headers sent with every request (Azure `api-key`, OpenRouter `HTTP-Referer`, ...). */
  headers?: Record<string, string>;
  /** The fetch to use. @defaultValue `globalThis.fetch` */
  fetch?: typeof fetch;
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
 * sent), POSTs it, and emits the answer's {@link LlmEvent}s as they arrive.
 * Requests stream unless `stream: false` is set; a non-streaming answer becomes
 * the same events. Completes after the last `finish` event; errors with a typed
 * {@link RxllmError}. Cold: nothing is sent before subscribe. Unsubscribe aborts
 * the HTTP request.
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
  const baseURL = (config.baseURL ?? 'https://api.openai.com/v1').replace(/\/+$/, '');
  const fetchImpl = config.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') {
    throw new RxllmError('invalid-config', 'No fetch available: pass `fetch` to sseTransport (Node 18+ and browsers have one built in).');
  }
  if (!/^https?:\/\//.test(baseURL)) {
    throw new RxllmError('invalid-config', `sseTransport baseURL must start with http:// or https://, got "${config.baseURL}".`);
  }
  const url = `${baseURL}/chat/completions`;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'text/event-stream, application/json',
    ...(config.apiKey ? { authorization: `Bearer ${config.apiKey}` } : {}),
    ...config.headers,
  };
  const includeUsage = config.includeUsage ?? true;

  return (request: LlmRequest) =>
    defer(() => {
      const body = JSON.stringify(wireBody(parseRequest(request), includeUsage));
      return requestEvents(
        (signal) => fetchImpl(url, { method: 'POST', headers, body, signal }),
        (cause) =>
          new RxllmError('connection-lost', `Could not reach ${url}: ${cause instanceof Error ? cause.message : String(cause)}. Check the URL and that the server is up.`, {
            cause,
            tokensEmitted: false,
          }),
      );
    });
}

/** The JSON body to send: streaming unless the request says otherwise, with usage asked for. */
export function wireBody(request: LlmRequest, includeUsage: boolean): LlmRequest {
  const stream = request.stream ?? true;
  if (!stream) return { ...request, stream: false };
  if (!includeUsage || request.stream_options != null) return { ...request, stream: true };
  return { ...request, stream: true, stream_options: { include_usage: true } };
}
