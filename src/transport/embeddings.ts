import { defer, Observable, of } from 'rxjs';
import { RxllmError } from '../core/errors.js';
import { httpEndpoint, type HttpEndpointConfig } from './httpEndpoint.js';
import { httpExchange } from './httpExchange.js';
import { errorFromHttpResponse, responseDetails, responseText, unreachable } from './httpError.js';

/**
 * Embeds several texts with one call: emits one vector per input, in input
 * order, then completes.
 *
 * The contract every embeddings client keeps: cold (nothing is sent before
 * subscribe), one request per subscription, unsubscribe aborts it, errors are
 * {@link RxllmError}s.
 */
export type EmbeddingsClient = (inputs: readonly string[], model: string) => Observable<number[][]>;

/** Options for {@link embeddingsClient}: where to send (`baseURL`, with `/embeddings` appended), credentials, headers, fetch. */
export interface EmbeddingsClientConfig extends HttpEndpointConfig {
  /** Sent as `dimensions` (shorter vectors, for models that support it, such as `text-embedding-3-*`). @defaultValue the model's own */
  dimensions?: number;
}

/**
 * An {@link EmbeddingsClient} over `fetch` for any OpenAI-compatible
 * `/v1/embeddings` endpoint (OpenAI, Azure, vLLM, Ollama, llama.cpp, LiteLLM,
 * the rxllm simulator). Works in Node 18+ and browsers.
 *
 * - Each subscription POSTs `{ model, input: [...inputs], encoding_format: "float" }`
 *   and **emits** the vectors once, ordered by the response's `index` fields,
 *   then **completes**. No inputs: emits `[]` without sending anything.
 * - **Errors**: a non-success status as every rxllm transport raises it
 *   (`rate-limited` with `retryAfterMs`, `quota-exceeded`, `server`, `bad-request`, `auth`, ...,
 *   with the provider's code, type and param and the readable response `headers`);
 *   an error object in a 200 body is `stream-error`; a body that is not JSON, or
 *   not one numeric vector per input, is `malformed-event`; nothing listening at the URL is
 *   `connection-refused`, any other network failure `connection-lost`; an input that is not a string, or an empty model name, is
 *   `invalid-request` and nothing is sent.
 * - **Cold**: nothing is sent before subscribe. **Unsubscribe** aborts the HTTP request.
 *
 * @throws {@link RxllmError} `invalid-config` for a bad `baseURL`, `fetch` or `dimensions`.
 *
 * @example
 * ```ts
 * import { embeddingsClient } from 'rxllm';
 * const embed = embeddingsClient({ baseURL: 'http://127.0.0.1:8787/v1' });
 * embed(['first text', 'second text'], 'text-embedding-3-small').subscribe(([first, second]) => index(first, second));
 * ```
 *
 * @see {@link batchEmbeddings} to pack many callers' inputs into one request.
 */
export function embeddingsClient(config: EmbeddingsClientConfig = {}): EmbeddingsClient {
  const { url, fetch, headers } = httpEndpoint('embeddingsClient', config, '/embeddings', 'application/json');
  const { dimensions } = config;
  if (dimensions !== undefined && !(Number.isInteger(dimensions) && dimensions >= 1)) {
    throw new RxllmError('invalid-config', `embeddingsClient dimensions must be an integer ≥ 1, got ${String(dimensions)}.`, { path: 'dimensions' });
  }

  return (inputs, model) =>
    defer(() => {
      const invalid = invalidCall(inputs, model);
      if (invalid) throw invalid;
      if (inputs.length === 0) return of([]);
      const count = inputs.length;
      const body = JSON.stringify({ model, input: [...inputs], encoding_format: 'float', ...(dimensions === undefined ? {} : { dimensions }) });
      return httpExchange(
        (signal) => fetch(url, { method: 'POST', headers, body, signal }),
        (cause) => unreachable(url, cause),
        (response) =>
          defer(async () => {
            const text = await responseText(response);
            if (!response.ok) throw errorFromHttpResponse(response.status, response.headers, text);
            return vectorsFrom(text, count, responseDetails(response));
          }),
      );
    });
}

function invalidCall(inputs: readonly string[], model: string): RxllmError | undefined {
  if (typeof model !== 'string' || model === '') {
    return new RxllmError('invalid-request', 'An embeddings call needs a model name, such as "text-embedding-3-small".', { path: 'model' });
  }
  const bad = inputs.findIndex((input) => typeof input !== 'string');
  return bad === -1
    ? undefined
    : new RxllmError('invalid-request', `Embeddings input ${bad} is not a string (got ${typeof inputs[bad]}); pass the text to embed.`, { path: `input.${bad}` });
}

/** The vectors of an OpenAI-style embeddings body, in input order; throws a typed error for anything else. */
function vectorsFrom(text: string, count: number, context: { status: number; requestId?: string }): number[][] {
  const malformed = (what: string) =>
    new RxllmError('malformed-event', `The embeddings response ${what}; expected {"data": [{"index", "embedding": [numbers]}, ...]} with one entry per input.`, {
      ...context,
      raw: text.slice(0, 2000),
    });
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    throw malformed('is not JSON');
  }
  const record = (typeof payload === 'object' && payload !== null ? payload : {}) as Record<string, unknown>;
  const error = record['error'];
  if (error !== undefined && error !== null) {
    const message = typeof error === 'string' ? error : String((error as Record<string, unknown>)['message'] ?? JSON.stringify(error));
    throw new RxllmError('stream-error', `The provider reported an error in a successful embeddings response: ${message}`, { ...context, raw: text.slice(0, 2000) });
  }
  const data = record['data'];
  if (!Array.isArray(data)) throw malformed('has no data array');
  if (data.length !== count) throw malformed(`has ${data.length} vectors for ${count} inputs`);
  const vectors = new Array<number[] | undefined>(count);
  data.forEach((entry: unknown, position) => {
    const { index = position, embedding } = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= count || vectors[index] !== undefined) {
      throw malformed(`has a missing, repeated or out-of-range index at data[${position}]`);
    }
    if (!Array.isArray(embedding) || !embedding.every((value) => typeof value === 'number')) throw malformed(`has no numeric embedding at data[${position}]`);
    vectors[index] = embedding as number[];
  });
  return vectors as number[][];
}
