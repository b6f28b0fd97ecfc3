import { defer, type Observable } from 'rxjs';
import { RxllmError, type RxllmErrorCode } from '../core/errors.js';

/**
 * The error for a non-success HTTP response, in the shape every rxllm transport raises:
 * the code from the status (and `quota-exceeded` for a 429 whose provider code or type is
 * `insufficient_quota`), the provider's own message, `code`, `type` and `param` from an
 * OpenAI-style error body, the request id, the wait the server asked for (`retry-after-ms`,
 * `retry-after` in seconds or as an HTTP date), and the readable headers ({@link readableHeaders}).
 *
 * `now` is the wall clock in ms, used only to turn an HTTP-date `retry-after` into a wait.
 */
export function errorFromHttpResponse(
  status: number,
  headers: Headers,
  bodyText: string,
  now: number = Date.now(),
): RxllmError {
  const body = parseErrorBody(bodyText);
  const code = status === 429 && (body.code === QUOTA || body.type === QUOTA) ? 'quota-exceeded' : codeForStatus(status);
  const requestId = headers.get('x-request-id') ?? undefined;
  const retryAfterMs = retryAfterFromHeaders(headers, now);
  const providerMessage = body.message ?? (bodyText.trim().slice(0, 500) || 'no message');
  const providerCode = body.code ?? body.type;
  return new RxllmError(code, `${status} ${providerMessage}${adviceFor(code, retryAfterMs)}`, {
    status,
    ...(requestId ? { requestId } : {}),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    ...(providerCode ? { providerCode } : {}),
    ...(body.type ? { providerType: body.type } : {}),
    ...(body.param ? { providerParam: body.param } : {}),
    headers: readableHeaders(headers),
    raw: bodyText.slice(0, 2000),
    tokensEmitted: false,
  });
}

/** OpenAI's code (and type) for a used-up quota, sent with status 429 like a rate limit. */
const QUOTA = 'insufficient_quota';

/** Header names never copied into an error: credentials a server may echo, and anything named like a key or token. */
const SECRET_HEADERS: ReadonlySet<string> = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'set-cookie2']);
// `-tokens` (x-ratelimit-remaining-tokens) is a count, not a credential, so only a name ending in `token` is dropped.
const SECRET_NAME = /(^|[-_])(api[-_]?key|key|token|secret|password|session|credentials?)$|apikey|secret|password/;

/**
 * The headers of a response an error may carry, as a frozen record with lower-cased names: every
 * header but those that hold credentials (see {@link RxllmErrorDetails.headers}). Takes any object
 * with `forEach` (a `Headers` of another fetch implementation too).
 */
export function readableHeaders(headers: Pick<Headers, 'forEach'>): Readonly<Record<string, string>> {
  const record: Record<string, string> = {};
  headers.forEach((value, name) => {
    const lower = name.toLowerCase();
    if (!SECRET_HEADERS.has(lower) && !SECRET_NAME.test(lower)) record[lower] = value;
  });
  return Object.freeze(record);
}

/**
 * Reads a non-success response's body and errors with {@link errorFromHttpResponse}'s error for it
 * (or `connection-lost`, when the body fails mid-read). Emits nothing. Cold: the body is read on subscribe.
 */
export function failedResponse(response: Response): Observable<never> {
  return defer(async () => {
    throw errorFromHttpResponse(response.status, response.headers, await responseText(response));
  });
}

/**
 * A response's whole body as text. Rejects with `connection-lost` (with the status) when the
 * connection fails mid-body, so a cut-off body never passes for a short one.
 */
export async function responseText(response: Response): Promise<string> {
  try {
    return await response.text();
  } catch (cause) {
    throw new RxllmError('connection-lost', `The connection was lost while reading the response body: ${describeCause(cause)}. Retry the request.`, {
      cause,
      status: response.status,
      tokensEmitted: false,
    });
  }
}

/**
 * The error for a request to `url` that failed before any response: `connection-refused` when
 * nothing accepted the connection (`ECONNREFUSED` anywhere in the cause chain: no server listens
 * there, so nothing was sent), else `connection-lost` (DNS, TLS, a reset, a fetch that threw).
 */
export function unreachable(url: string, cause: unknown): RxllmError {
  if (isConnectionRefused(cause)) {
    return new RxllmError('connection-refused', `Nothing accepted the connection to ${url} (ECONNREFUSED): no server is listening there. Check the URL and that the server is running.`, {
      cause,
      tokensEmitted: false,
    });
  }
  return new RxllmError('connection-lost', `Could not reach ${url}: ${describeCause(cause)}. Check the URL and that the server is up.`, {
    cause,
    tokensEmitted: false,
  });
}

/**
 * True when `error`, or an error it wraps, is a refused connection. undici's `fetch failed` keeps
 * the socket error as its `cause`; the openai SDK wraps that once more; with both IPv6 and IPv4
 * tried (`localhost`), Node reports an `AggregateError` of one refusal per address.
 */
function isConnectionRefused(error: unknown, depth = 0): boolean {
  if (depth > 5 || typeof error !== 'object' || error === null) return false;
  const { code, cause, errors } = error as { code?: unknown; cause?: unknown; errors?: unknown };
  if (code === 'ECONNREFUSED') return true;
  if (Array.isArray(errors) && errors.length > 0 && errors.every((inner) => isConnectionRefused(inner, depth + 1))) return true;
  return isConnectionRefused(cause, depth + 1);
}

/**
 * What a response tells an error about itself: its status, its readable headers ({@link readableHeaders})
 * and, when sent, the provider's request id.
 */
export function responseDetails(response: Response): { status: number; requestId?: string; headers: Readonly<Record<string, string>> } {
  const requestId = response.headers.get('x-request-id') ?? undefined;
  const headers = readableHeaders(response.headers);
  return requestId ? { status: response.status, requestId, headers } : { status: response.status, headers };
}

/**
 * An error's message for another error's text, with the message of its own `cause` when it has one
 * (undici's `fetch failed` says why only in its cause: `connect ECONNREFUSED`, `other side closed`).
 */
export function describeCause(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
  }
  return String(error);
}

/** Maps an HTTP status to an {@link RxllmErrorCode}. */
export function codeForStatus(status: number): RxllmErrorCode {
  if (status === 401 || status === 403) return 'auth';
  if (status === 400 || status === 404 || status === 422) return 'bad-request';
  if (status === 429) return 'rate-limited';
  if (status >= 500) return 'server';
  return 'http';
}

/** The wait a response asks for, in ms: `retry-after-ms`, else `retry-after` (seconds or HTTP date). */
export function retryAfterFromHeaders(headers: Headers, now: number): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '' && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const value = headers.get('retry-after');
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function adviceFor(code: RxllmErrorCode, retryAfterMs: number | undefined): string {
  switch (code) {
    case 'auth':
      return ' (check the API key and that it may use this model)';
    case 'bad-request':
      return ' (the server refused the request as written; check the model name and parameters)';
    case 'quota-exceeded':
      return ' (the quota of this API key is used up: check the plan and billing details of the account, or use another key; retrying will not help)';
    case 'rate-limited':
      return retryAfterMs === undefined
        ? ' (rate limited; retry later or lower the request rate)'
        : ` (rate limited; the server asks to wait ${Math.round(retryAfterMs)} ms)`;
    case 'server':
      return ' (server error; retrying usually helps)';
    default:
      return '';
  }
}

function parseErrorBody(text: string): { message?: string; code?: string; type?: string; param?: string } {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null) return {};
    const record = parsed as Record<string, unknown>;
    const error = (typeof record['error'] === 'object' && record['error'] !== null ? record['error'] : record) as Record<
      string,
      unknown
    >;
    const message = typeof error['message'] === 'string' ? error['message'] : typeof record['error'] === 'string' ? record['error'] : undefined;
    const field = (name: string): string | undefined => {
      const value = error[name];
      return value === undefined || value === null || typeof value === 'object' ? undefined : String(value);
    };
    const code = field('code');
    const type = field('type');
    const param = field('param');
    return {
      ...(message ? { message } : {}),
      ...(code === undefined ? {} : { code }),
      ...(type === undefined ? {} : { type }),
      ...(param === undefined ? {} : { param }),
    };
  } catch {
    return {};
  }
}
