import { defer, type Observable } from 'rxjs';
import { RxllmError, type RxllmErrorCode } from '../core/errors.js';

/**
 * The error for a non-success HTTP response, in the shape every rxllm transport raises:
 * the code from the status, the provider's own message and code from an OpenAI-style
 * error body, the request id, and the wait the server asked for (`retry-after-ms`,
 * `retry-after` in seconds or as an HTTP date).
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
  const code = codeForStatus(status);
  const requestId = headers.get('x-request-id') ?? undefined;
  const retryAfterMs = retryAfterFromHeaders(headers, now);
  const providerMessage = body.message ?? (bodyText.trim().slice(0, 500) || 'no message');
  return new RxllmError(code, `${status} ${providerMessage}${adviceFor(code, retryAfterMs)}`, {
    status,
    ...(requestId ? { requestId } : {}),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    ...(body.code ? { providerCode: body.code } : {}),
    raw: bodyText.slice(0, 2000),
    tokensEmitted: false,
  });
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

/** The `connection-lost` error for a request to `url` that failed before any response (refused, DNS, reset, a fetch that threw). */
export function unreachable(url: string, cause: unknown): RxllmError {
  return new RxllmError('connection-lost', `Could not reach ${url}: ${describeCause(cause)}. Check the URL and that the server is up.`, {
    cause,
    tokensEmitted: false,
  });
}

/** What a response tells an error about itself: its status and, when sent, the provider's request id. */
export function responseDetails(response: Response): { status: number; requestId?: string } {
  const requestId = response.headers.get('x-request-id') ?? undefined;
  return requestId ? { status: response.status, requestId } : { status: response.status };
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

function parseErrorBody(text: string): { message?: string; code?: string } {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null) return {};
    const record = parsed as Record<string, unknown>;
    const error = (typeof record['error'] === 'object' && record['error'] !== null ? record['error'] : record) as Record<
      string,
      unknown
    >;
    const message = typeof error['message'] === 'string' ? error['message'] : typeof record['error'] === 'string' ? record['error'] : undefined;
    const code = error['code'] ?? error['type'];
    return {
      ...(message ? { message } : {}),
      ...(code === undefined || code === null ? {} : { code: String(code) }),
    };
  } catch {
    return {};
  }
}
