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
