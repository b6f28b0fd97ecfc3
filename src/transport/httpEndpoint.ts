import { RxllmError } from '../core/errors.js';

// Internal: the config checks and headers of rxllm's HTTP clients (sseTransport, embeddingsClient,
// fromServerSentEvents, openaiTransport), written once. Not exported from any entry point.

/** Where an OpenAI-compatible HTTP client sends its requests, and with which credentials. */
export interface HttpEndpointConfig {
  /**
   * The API root, up to and including the version (`https://api.openai.com/v1`,
   * `http://127.0.0.1:11434/v1`). The call's path (`/chat/completions`, `/embeddings`) is appended.
   * @defaultValue `"https://api.openai.com/v1"`
   */
  baseURL?: string;
  /** Sent as `Authorization: Bearer <apiKey>`. Omit for local servers that need none. */
  apiKey?: string;
  /** Extra headers sent with every request (Azure `api-key`, OpenRouter `HTTP-Referer`, ...). They win over rxllm's own, whatever their case. */
  headers?: Record<string, string>;
  /** The fetch to use. @defaultValue `globalThis.fetch` */
  fetch?: typeof fetch;
}

/** A checked endpoint: the full URL of the call, the fetch to send it with, and the headers of every request. */
export interface HttpEndpoint {
  readonly url: string;
  readonly fetch: typeof fetch;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Checks an {@link HttpEndpointConfig} once, when the client is made, and builds what every request
 * of it sends: a JSON POST to `<baseURL><path>` accepting `accept`.
 *
 * @param owner the function being configured, for the error messages (`"sseTransport"`).
 * @throws {@link RxllmError} `invalid-config` for a `baseURL` that is not http(s) or a missing `fetch`.
 */
export function httpEndpoint(owner: string, config: HttpEndpointConfig, path: string, accept: string): HttpEndpoint {
  const fetchImpl = fetchOf(owner, config.fetch);
  const url = `${baseURLOf(owner, config.baseURL)}${path}`;
  const headers = withHeaders(
    {
      'content-type': 'application/json',
      accept,
      ...(config.apiKey ? { authorization: `Bearer ${config.apiKey}` } : {}),
    },
    config.headers,
  );
  return { url, fetch: fetchImpl, headers };
}

/**
 * The fetch to use: the given one, else the global one.
 * @throws {@link RxllmError} `invalid-config` when there is none, or it is not a function.
 */
export function fetchOf(owner: string, fetchImpl: typeof fetch | undefined): typeof fetch {
  const found: unknown = fetchImpl ?? globalThis.fetch;
  if (typeof found !== 'function') {
    throw new RxllmError('invalid-config', `No fetch available: pass \`fetch\` to ${owner} (Node 18+ and browsers have one built in).`, { path: 'fetch' });
  }
  return found as typeof fetch;
}

/**
 * The API root without its trailing slashes (the default OpenAI one when `baseURL` is undefined).
 * @throws {@link RxllmError} `invalid-config` when it is not an http(s) URL.
 */
export function baseURLOf(owner: string, baseURL: string | undefined): string {
  const root = (baseURL ?? 'https://api.openai.com/v1').replace(/\/+$/, '');
  if (!/^https?:\/\//.test(root)) {
    throw new RxllmError('invalid-config', `${owner} baseURL must start with http:// or https://, got "${String(baseURL)}".`, { path: 'baseURL' });
  }
  return root;
}

/**
 * `defaults` with the caller's `extra` headers over them. Header names are case-insensitive, so a
 * caller's `Authorization` or `Content-Type` replaces the default instead of being sent beside it.
 */
export function withHeaders(defaults: Record<string, string>, extra: Record<string, string> | undefined): Record<string, string> {
  const headers = { ...defaults };
  for (const [name, value] of Object.entries(extra ?? {})) {
    delete headers[name.toLowerCase()];
    headers[name] = value;
  }
  return headers;
}
